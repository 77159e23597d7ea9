"""Visualization: the Visualizer and the backends it writes to."""
from .vis_backend import BaseVisBackend, LocalVisBackend, TensorboardVisBackend
from .visualizer import Visualizer

__all__ = ['Visualizer', 'BaseVisBackend', 'LocalVisBackend', 'TensorboardVisBackend']
