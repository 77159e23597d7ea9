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
