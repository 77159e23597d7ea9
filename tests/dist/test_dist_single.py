"""Every mmlite.dist helper in a plain process without a process group: no-op or identity."""
import pytest
import torch

from mmlite import dist


def test_rank_helpers_describe_a_world_of_one():
    assert not dist.is_distributed()
    assert dist.get_dist_info() == (0, 1)
    assert dist.get_rank() == 0 and dist.get_world_size() == 1
    assert dist.get_local_rank() == 0 and dist.get_local_size() == 1
    assert dist.is_main_process()
    assert dist.get_backend() is None and dist.get_default_group() is None
    assert dist.get_comm_device() == torch.device('cpu')
    dist.barrier()  # returns at once


def test_master_only_runs_and_keeps_metadata():
    calls = []

    @dist.master_only
    def save(path):
        """Save something."""
        calls.append(path)
        return 'saved'

    assert save('a') == 'saved' and calls == ['a']
    assert save.__name__ == 'save' and save.__doc__ == 'Save something.'


def test_tensor_collectives_are_identity():
    data = torch.tensor([1.0, 2.0])
    dist.all_reduce(data)
    dist.all_reduce(data, op='mean')
    dist.broadcast(data, src=0)
    assert data.tolist() == [1.0, 2.0]
    assert dist.all_gather(data)[0] is data and len(dist.all_gather(data)) == 1
    assert dist.gather(data)[0] is data


def test_all_reduce_validates_op_even_alone():
    with pytest.raises(ValueError, match="unknown op 'avg'"):
        dist.all_reduce(torch.ones(1), op='avg')
    with pytest.raises(TypeError, match="op='mean'.*floating"):
        dist.all_reduce(torch.ones(1, dtype=torch.int64), op='mean')


def test_object_collectives_are_identity():
    item = {'a': [1, 2]}
    assert dist.all_gather_object(item) == [item]
    assert dist.gather_object(item) == [item]
    objects = ['x', 3]
    dist.broadcast_object_list(objects)
    assert objects == ['x', 3]
    with pytest.raises(TypeError, match='takes a list'):
        dist.broadcast_object_list(('x',))


def test_all_reduce_dict_and_params_leave_values():
    losses = {'b': torch.tensor(2.0), 'a': torch.tensor([1.0, 3.0])}
    dist.all_reduce_dict(losses, op='mean')
    assert losses['a'].tolist() == [1.0, 3.0] and losses['b'].item() == 2.0
    with pytest.raises(TypeError, match=r"data\['c'\] is float"):
        dist.all_reduce_dict({'c': 1.0})
    layer = torch.nn.Linear(2, 2)
    before = [p.detach().clone() for p in layer.parameters()]
    dist.all_reduce_params(layer.parameters(), op='mean')
    assert all(torch.equal(a, b) for a, b in zip(before, layer.parameters()))


def test_sync_random_seed_is_a_non_negative_int():
    seed = dist.sync_random_seed()
    assert isinstance(seed, int) and 0 <= seed < 2**31


@pytest.mark.parametrize('device', ['cpu', 'gpu'])
def test_collect_results_cuts_padding(device):
    assert dist.collect_results(['a', 'b', 'c', 'pad'], 3, device=device) == ['a', 'b', 'c']


def test_collect_results_rejects_unknown_device(tmp_path):
    with pytest.raises(ValueError, match=r"device must be one of \['cpu', 'gpu'\]"):
        dist.collect_results([1], 1, device='cuda')
    assert dist.collect_results_cpu([1, 2], 2, tmpdir=str(tmp_path)) == [1, 2]
    assert dist.collect_results_gpu([1, 2], 1) == [1]


def test_data_device_helpers():
    cpu = torch.device('cpu')
    nested = {'x': torch.ones(1), 'y': [torch.zeros(2)]}
    assert dist.get_data_device(nested) == cpu
    moved = dist.cast_data_device(nested, cpu)
    assert moved['y'][0].tolist() == [0.0, 0.0]
    out = [torch.empty(1), torch.empty(2)]
    result = dist.cast_data_device([torch.ones(1), torch.full((2,), 5.0)], cpu, out=out)
    assert result is out and out[1].tolist() == [5.0, 5.0]
    with pytest.raises(ValueError, match='empty'):
        dist.get_data_device([])
    with pytest.raises(TypeError, match='takes a tensor'):
        dist.get_data_device(3)
    if torch.device('meta').type == 'meta':
        with pytest.raises(ValueError, match='several devices'):
            dist.get_data_device([torch.ones(1), torch.ones(1, device='meta')])


def test_infer_launcher_reads_the_environment(monkeypatch):
    for name in ('WORLD_SIZE', 'SLURM_NTASKS', 'OMPI_COMM_WORLD_LOCAL_RANK'):
        monkeypatch.delenv(name, raising=False)
    assert dist.infer_launcher() == 'none'
    monkeypatch.setenv('OMPI_COMM_WORLD_LOCAL_RANK', '0')
    assert dist.infer_launcher() == 'mpi'
    monkeypatch.setenv('SLURM_NTASKS', '2')
    assert dist.infer_launcher() == 'slurm'
    monkeypatch.setenv('WORLD_SIZE', '2')
    assert dist.infer_launcher() == 'pytorch'


def test_broadcast_module_state_keeps_the_module_alone():
    layer = torch.nn.BatchNorm1d(3)
    before = {k: v.clone() for k, v in layer.state_dict().items()}
    dist.broadcast_module_state(layer)
    assert all(torch.equal(before[k], v) for k, v in layer.state_dict().items())


def test_flat_buckets_group_by_dtype_and_respect_the_size_limit():
    from mmlite.dist.dist import _flat_buckets, _through_flat
    floats = [torch.zeros(128 * 1024) for _ in range(3)]  # 0.5 MB each
    ints = [torch.zeros(4, dtype=torch.int64)]
    assert [len(b) for b in _flat_buckets(floats + ints, -1)] == [3, 1]
    assert [len(b) for b in _flat_buckets(floats + ints, 1)] == [2, 1, 1]
    bucket = [torch.ones(2), torch.ones(3, 1)]
    _through_flat(bucket, lambda flat: flat.mul_(torch.arange(5.0)))
    assert bucket[0].tolist() == [0.0, 1.0] and bucket[1].tolist() == [[2.0], [3.0], [4.0]]


def test_full_state_hooks_ignore_unsharded_models():
    from mmlite.dist.full_state import attach_optimizer_hooks, has_dtensors
    layer = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1, momentum=0.9)
    assert not has_dtensors(layer.parameters())
    assert attach_optimizer_hooks(optimizer) is False
    assert not optimizer._optimizer_state_dict_post_hooks


def test_fully_shard_wrapper_needs_a_process_group():
    from mmlite.model.wrappers import MMFullyShard
    with pytest.raises(RuntimeError, match="torchrun and launcher='pytorch'"):
        MMFullyShard(torch.nn.Linear(2, 2))


def test_ddp_buffer_sync_keyword_matches_this_torch():
    import inspect

    from torch.nn.parallel import DistributedDataParallel

    from mmlite.model.wrappers.distributed import no_forward_buffer_sync
    (key, value), = no_forward_buffer_sync().items()
    assert value is False
    assert key in inspect.signature(DistributedDataParallel.__init__).parameters
