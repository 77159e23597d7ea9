"""BaseModule: an nn.Module whose weights are initialised from ``init_cfg``, once."""
from __future__ import annotations

import copy
import logging
from abc import ABCMeta
from collections import defaultdict
from collections.abc import Iterable

from torch import nn

from .utils import log_current
from .weight_init import PretrainedInit, initialize, param_means, update_init_info


def _is_pretrained(cfg: dict) -> bool:
    return cfg.get('type') in ('Pretrained', PretrainedInit)


class BaseModule(nn.Module, metaclass=ABCMeta):
    """An ``nn.Module`` with config-driven weight initialisation.

    ``init_weights()`` applies ``init_cfg`` (a dict or a list; see :func:`initialize`), then calls
    each child's ``init_weights``, then loads ``Pretrained`` configs last so they win. A module
    initialises once: later calls only warn. Children's ``init_cfg`` therefore override the
    parent's for their own parameters.

    Args:
        init_cfg: initialisation config(s), e.g. ``dict(type='Kaiming', layer='Conv2d')``.
    """

    def __init__(self, init_cfg: dict | list[dict] | None = None) -> None:
        super().__init__()
        self._is_init = False
        self.init_cfg = copy.deepcopy(init_cfg)

    @property
    def is_init(self) -> bool:
        """Whether ``init_weights`` has run (set it to True after loading weights by hand)."""
        return self._is_init

    @is_init.setter
    def is_init(self, value: bool) -> None:
        self._is_init = value

    def init_weights(self) -> None:
        """Initialise this module and its children (see the class docstring)."""
        top_level = not hasattr(self, '_params_init_info')
        if top_level:
            self._start_init_tracking()
        try:
            if self._is_init:
                log_current(f'init_weights of {type(self).__name__} has been called more than once.',
                            logging.WARNING)
                return
            self._init_self_and_children()
            self._is_init = True
        finally:
            if top_level:
                self._finish_init_tracking()

    def _init_self_and_children(self) -> None:
        from .wrappers import is_model_wrapper
        cfgs = []
        if self.init_cfg:
            cfgs = [self.init_cfg] if isinstance(self.init_cfg, dict) else list(self.init_cfg)
        pretrained = [cfg for cfg in cfgs if _is_pretrained(cfg)]
        others = [cfg for cfg in cfgs if not _is_pretrained(cfg)]
        if others:
            log_current(f'initialize {type(self).__name__} with init_cfg {others}', logging.DEBUG)
            initialize(self, others)
        for child in self.children():
            if is_model_wrapper(child) and not hasattr(child, 'init_weights'):
                child = child.module
            if hasattr(child, 'init_weights') and not getattr(child, 'is_init', False):
                child.init_weights()
                update_init_info(child, f'Initialized by user-defined `init_weights` in '
                                        f'{type(child).__name__}')
        if pretrained:
            initialize(self, pretrained)

    def _start_init_tracking(self) -> None:
        """Share one table (parameter -> how it was initialised) with every submodule."""
        info: defaultdict = defaultdict(dict)
        params = [p for _, p in self.named_parameters()]
        means = param_means(params)
        for param, mean in zip(params, means):
            info[param]['init_info'] = (f'The value is the same before and after calling `init_weights` '
                                        f'of {type(self).__name__}')
            info[param]['tmp_mean_value'] = mean
        for module in self.modules():
            module._params_init_info = info

    def _finish_init_tracking(self) -> None:
        info = self._params_init_info
        lines = [f'{name} - {tuple(p.shape)}: {info[p]["init_info"]}'
                 for name, p in self.named_parameters() if p in info]
        if lines:
            log_current('Name of parameter - Initialization information\n' + '\n'.join(lines),
                        logging.DEBUG)
        for module in self.modules():
            if hasattr(module, '_params_init_info'):
                del module._params_init_info

    def __repr__(self) -> str:
        text = super().__repr__()
        if self.init_cfg:
            text += f'\ninit_cfg={self.init_cfg}'
        return text


class Sequential(BaseModule, nn.Sequential):
    """``nn.Sequential`` with ``init_cfg``."""

    def __init__(self, *args: nn.Module, init_cfg: dict | list[dict] | None = None) -> None:
        BaseModule.__init__(self, init_cfg)
        nn.Sequential.__init__(self, *args)


class ModuleList(BaseModule, nn.ModuleList):
    """``nn.ModuleList`` with ``init_cfg``."""

    def __init__(self, modules: Iterable[nn.Module] | None = None,
                 init_cfg: dict | list[dict] | None = None) -> None:
        BaseModule.__init__(self, init_cfg)
        nn.ModuleList.__init__(self, modules)


class ModuleDict(BaseModule, nn.ModuleDict):
    """``nn.ModuleDict`` with ``init_cfg``."""

    def __init__(self, modules: dict[str, nn.Module] | None = None,
                 init_cfg: dict | list[dict] | None = None) -> None:
        BaseModule.__init__(self, init_cfg)
        nn.ModuleDict.__init__(self, modules)
