"""BaseModel and the data preprocessors."""
from .base_model import BaseModel
from .data_preprocessor import BaseDataPreprocessor, ImgDataPreprocessor

__all__ = ['BaseModel', 'BaseDataPreprocessor', 'ImgDataPreprocessor']
