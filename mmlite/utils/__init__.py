"""Small helpers with no dependency on the rest of mmlite."""
from .device import get_device, is_cuda_available, is_mps_available
from .manager import ManagerMixin
from .progress import track_progress
from mmlite.fileio.path import check_file_exist, mkdir_or_exist, scandir  # MMEngine exports them here
from .misc import (apply_to, concat_list, digit_version, get_object_from_string, has_method,
                   import_modules_from_strings, is_list_of, is_method_overridden, is_seq_of, is_str,
                   is_tuple_of, iter_cast, list_cast, slice_list, to_1tuple, to_2tuple, to_3tuple,
                   to_4tuple, to_ntuple, tuple_cast)

__all__ = ['ManagerMixin', 'check_file_exist', 'mkdir_or_exist', 'scandir', 'get_device', 'is_cuda_available', 'is_mps_available', 'track_progress',
           'apply_to', 'concat_list', 'digit_version', 'get_object_from_string', 'has_method',
           'import_modules_from_strings', 'is_list_of', 'is_method_overridden', 'is_seq_of', 'is_str',
           'is_tuple_of', 'iter_cast', 'list_cast', 'slice_list', 'to_1tuple', 'to_2tuple',
           'to_3tuple', 'to_4tuple', 'to_ntuple', 'tuple_cast']
