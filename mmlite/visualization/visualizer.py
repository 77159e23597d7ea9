"""Visualizer: one front for every visualization backend (local JSON, TensorBoard...).

Only rank 0 writes: in a distributed run the ``add_*`` methods do nothing on other ranks.
MMEngine's matplotlib drawing primitives (``draw_bboxes`` and friends) are not provided;
subclasses override :meth:`Visualizer.add_datasample` to draw their own samples.
"""
from __future__ import annotations

import copy
import functools
import inspect
import os
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import mmlite.dist as dist_utils
from mmlite.registry import VISBACKENDS, VISUALIZERS
from mmlite.utils import ManagerMixin

from .vis_backend import BaseVisBackend, check_image


def _main_process_only(method: Callable) -> Callable:
    """Run ``method`` on rank 0 only (and always when torch.distributed is not initialised)."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        # Looked up on the module at each call (tests patch it), without an import statement.
        if dist_utils.is_main_process():
            return method(*args, **kwargs)
        return None
    return wrapper


def _needs_save_dir(backend_cls: type) -> bool:
    """True when the backend class takes a ``save_dir`` argument without a default."""
    try:
        parameter = inspect.signature(backend_cls).parameters.get('save_dir')
    except (TypeError, ValueError):  # no introspectable signature: assume it manages itself
        return False
    return parameter is not None and parameter.default is inspect.Parameter.empty


@VISUALIZERS.register_module()
class Visualizer(ManagerMixin):
    """Send configs, scalars and images to every backend.

    Args:
        name: the instance name (``Visualizer.get_instance(name)``).
        image: an RGB uint8 image to start from (see :meth:`set_image`).
        vis_backends: backend configs (built from ``VISBACKENDS``) or instances; a
            config's ``name`` key names the backend, else its class name does.
        save_dir: backends write into ``<save_dir>/vis_data``. Without it, backends
            that need a folder are skipped with one warning.
        fig_save_cfg, fig_show_cfg: accepted for MMEngine compatibility; unused
            because the matplotlib drawing is not provided.
    """

    def __init__(self, name: str = 'visualizer', image: np.ndarray | None = None,
                 vis_backends: dict | BaseVisBackend | Sequence[dict | BaseVisBackend] | None = None,
                 save_dir: str | None = None, fig_save_cfg: dict | None = None,
                 fig_show_cfg: dict | None = None) -> None:
        super().__init__(name)
        self._dataset_meta: dict | None = None
        self._image: np.ndarray | None = None
        self.fig_save_cfg = dict(frameon=False) if fig_save_cfg is None else fig_save_cfg
        self.fig_show_cfg = dict(frameon=False) if fig_show_cfg is None else fig_show_cfg
        if save_dir is not None:
            save_dir = os.path.join(save_dir, 'vis_data')
        self._vis_backends: dict[str, BaseVisBackend] = self._build_backends(vis_backends, save_dir)
        if image is not None:
            self.set_image(image)

    def _build_backends(self, vis_backends: Any, save_dir: str | None) -> dict[str, BaseVisBackend]:
        if vis_backends is None:
            return {}
        if isinstance(vis_backends, (dict, BaseVisBackend)):
            vis_backends = [vis_backends]
        backends: dict[str, BaseVisBackend] = {}
        skipped: list[str] = []
        for index, entry in enumerate(vis_backends):
            if isinstance(entry, BaseVisBackend):
                backend_name, backend = type(entry).__name__, entry
            elif isinstance(entry, dict):
                cfg = copy.copy(entry)  # the caller's config stays as written
                backend_name = cfg.pop('name', None)
                backend_type = cfg.get('type')
                backend_cls = backend_type
                if isinstance(backend_type, str):  # looked up as build() will: in the default scope
                    with VISBACKENDS.switch_scope_and_registry(cfg.get('_scope_')) as registry:
                        backend_cls = registry.get(backend_type)
                        if backend_cls is None:
                            raise registry.not_found_error(backend_type)
                elif not inspect.isclass(backend_type):
                    raise TypeError(f'Visualizer vis_backends[{index}] needs a "type" key naming a '
                                    f'backend in the VISBACKENDS registry, got {entry!r}')
                backend_name = backend_name or backend_cls.__name__
                if save_dir is not None:
                    cfg.setdefault('save_dir', save_dir)
                elif 'save_dir' not in cfg and _needs_save_dir(backend_cls):
                    skipped.append(backend_name)
                    continue
                backend = VISBACKENDS.build(cfg)
            else:
                raise TypeError(f'Visualizer vis_backends[{index}] must be a config dict or a '
                                f'BaseVisBackend, got {type(entry).__name__}')
            if backend_name in backends:
                raise ValueError(f'Visualizer has two backends named {backend_name!r}; give them '
                                 'distinct names with a "name" key in their configs')
            backends[backend_name] = backend
        if skipped:
            warnings.warn(f'Visualizer {self.instance_name!r} has no save_dir, so backends that '
                          f'write files were skipped: {", ".join(skipped)}. Pass save_dir=... '
                          '(the Runner passes its log folder).')
        return backends

    @classmethod
    def get_instance(cls, name: str, **kwargs: Any) -> Visualizer:
        """As ManagerMixin's, but a subclass instance is also ``Visualizer.get_current_instance()``,
        so code that only knows the base class finds the visualizer a downstream repo built."""
        instance = super().get_instance(name, **kwargs)
        Visualizer._instance_dict[name] = instance
        Visualizer._current_name = name
        return instance

    # ------------------------------------------------------------- state
    @property
    def dataset_meta(self) -> dict | None:
        """Meta information of the dataset (class names, palette...)."""
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict | None) -> None:
        self._dataset_meta = dataset_meta

    def set_image(self, image: np.ndarray) -> None:
        """Keep an RGB image (HxWx3; HxW grey is expanded) as uint8 for later drawing or saving."""
        if not isinstance(image, np.ndarray):
            raise TypeError(f'Visualizer.set_image expects a numpy array, got {type(image).__name__}')
        image = image.astype(np.uint8)
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        check_image(image, 'Visualizer.set_image')
        self._image = image
        self.height, self.width = image.shape[:2]

    def get_image(self) -> np.ndarray:
        """The image given to :meth:`set_image`, as an HxWx3 uint8 RGB array."""
        if self._image is None:
            raise RuntimeError('Visualizer has no image yet; call set_image(image) first')
        return self._image.copy()

    def get_backend(self, name: str) -> BaseVisBackend | None:
        """The backend called ``name`` (its config's ``name``, else its class name), or None."""
        return self._vis_backends.get(name)

    # ----------------------------------------------------------- writing
    @_main_process_only
    def add_config(self, config: Any, **kwargs: Any) -> None:
        """Record the experiment's config in every backend."""
        for backend in self._vis_backends.values():
            backend.add_config(config, **kwargs)

    @_main_process_only
    def add_graph(self, model: Any, data_batch: Any, **kwargs: Any) -> None:
        """Record the model graph in every backend that supports it."""
        for backend in self._vis_backends.values():
            backend.add_graph(model, data_batch, **kwargs)

    @_main_process_only
    def add_image(self, name: str, image: np.ndarray, step: int = 0) -> None:
        """Record an RGB uint8 image in every backend."""
        for backend in self._vis_backends.values():
            backend.add_image(name, image, step)

    @_main_process_only
    def add_scalar(self, name: str, value: Any, step: int = 0, **kwargs: Any) -> None:
        """Record one scalar in every backend."""
        for backend in self._vis_backends.values():
            backend.add_scalar(name, value, step, **kwargs)

    @_main_process_only
    def add_scalars(self, scalar_dict: dict, step: int = 0, file_path: str | None = None,
                    **kwargs: Any) -> None:
        """Record several scalars at one step; ``file_path`` also copies them to that file
        (relative to the backend's folder) in backends that write files."""
        for backend in self._vis_backends.values():
            backend.add_scalars(scalar_dict, step, file_path, **kwargs)

    @_main_process_only
    def add_datasample(self, name: str, image: np.ndarray, data_sample: Any = None,
                       draw_gt: bool = True, draw_pred: bool = True, show: bool = False,
                       wait_time: float = 0, step: int = 0) -> None:
        """Draw a sample's ground truth and prediction; a no-op hook for task visualizers."""

    def close(self) -> None:
        """Flush and close every backend."""
        for backend in self._vis_backends.values():
            backend.close()
