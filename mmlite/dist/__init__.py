"""Distributed helpers: who am I, start the process group, collectives, evaluation gathering.

Every helper also works in a plain single process, where it is a no-op or the identity.
"""
from . import exit_guard  # noqa: F401  (its atexit hook guards the exit of distributed runs)
from .collect import collect_results, collect_results_cpu, collect_results_gpu
from .dist import (all_gather, all_gather_object, all_reduce, all_reduce_dict, all_reduce_params,
                   broadcast, broadcast_module_state, broadcast_object_list, gather, gather_object,
                   sync_random_seed)
from .launch import infer_launcher, init_dist
from .utils import (barrier, cast_data_device, get_backend, get_comm_device, get_data_device,
                    get_default_group, get_dist_info, get_local_group, get_local_rank,
                    get_local_size, get_rank, get_world_size, init_local_group, is_distributed,
                    is_main_process, master_only)

__all__ = [
    'all_gather', 'all_gather_object', 'all_reduce', 'all_reduce_dict', 'all_reduce_params',
    'broadcast', 'broadcast_module_state', 'broadcast_object_list', 'gather', 'gather_object',
    'sync_random_seed',
    'collect_results', 'collect_results_cpu', 'collect_results_gpu', 'init_dist',
    'infer_launcher', 'barrier', 'cast_data_device', 'get_backend', 'get_comm_device',
    'get_data_device', 'get_default_group', 'get_dist_info', 'get_local_group', 'get_local_rank',
    'get_local_size', 'get_rank', 'get_world_size', 'init_local_group', 'is_distributed',
    'is_main_process', 'master_only',
]
