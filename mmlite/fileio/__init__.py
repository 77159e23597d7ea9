"""Small local-file helpers: load/dump json, yaml and pickle; paths; line-oriented text files."""
from .backend import LocalBackend, atomic_write, get_file_backend
from .handlers import (BaseFileHandler, JsonHandler, PickleHandler, YamlHandler, file_handlers,
                       register_handler)
from .io import (copyfile, copytree, dump, exists, get, get_local_path, get_text, isdir, isfile,
                 join_path, list_dir_or_file, load, put, put_text, remove, rmtree)
from .parse import dict_from_file, list_from_file
from .path import check_file_exist, fopen, is_filepath, mkdir_or_exist, scandir, symlink

__all__ = [
    'load', 'dump', 'BaseFileHandler', 'JsonHandler', 'YamlHandler', 'PickleHandler',
    'register_handler', 'file_handlers', 'LocalBackend', 'get_file_backend', 'atomic_write',
    'get', 'get_text', 'put', 'put_text', 'exists', 'isdir', 'isfile', 'join_path',
    'get_local_path', 'copyfile', 'copytree', 'remove', 'rmtree', 'list_dir_or_file',
    'list_from_file', 'dict_from_file', 'mkdir_or_exist', 'scandir', 'check_file_exist',
    'is_filepath', 'fopen', 'symlink',
]
