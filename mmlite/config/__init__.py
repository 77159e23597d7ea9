"""Config files: reading .py/.json/.yaml with ``_base_`` inheritance, ConfigDict, DictAction."""
from .config import RESERVED_KEYS, Config
from .config_dict import ConfigDict
from .dict_action import DictAction, parse_option_value
from .errors import (ConfigError, ConfigFileNotFoundError, ConfigImportError, ConfigKeyError,
                     ConfigSyntaxError, ConfigTypeError)
from .loader import BASE_KEY, DEPRECATION_KEY
from .merge import DELETE_KEY, merge_a_into_b

__all__ = [
    'Config', 'ConfigDict', 'DictAction', 'parse_option_value', 'merge_a_into_b',
    'ConfigError', 'ConfigKeyError', 'ConfigTypeError', 'ConfigSyntaxError',
    'ConfigFileNotFoundError', 'ConfigImportError', 'BASE_KEY', 'DELETE_KEY', 'DEPRECATION_KEY',
    'RESERVED_KEYS',
]
