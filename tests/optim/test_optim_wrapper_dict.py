"""OptimWrapperDict: a mapping of wrappers with prefixed views and per-item updates."""
import pytest
import torch
from torch import nn

from mmlite.optim import OptimWrapper, OptimWrapperDict


def _gan_wrappers():
    gen, disc = nn.Linear(2, 2), nn.Linear(2, 1)
    return gen, disc, OptimWrapperDict(
        generator=OptimWrapper(torch.optim.Adam(gen.parameters(), lr=1e-3, betas=(0.5, 0.9))),
        discriminator=OptimWrapper(torch.optim.SGD(disc.parameters(), lr=0.1, momentum=0.3)))


def test_mapping_access_and_prefixed_views():
    _, _, wrappers = _gan_wrappers()
    assert len(wrappers) == 2 and 'generator' in wrappers and 'critic' not in wrappers
    assert list(wrappers.keys()) == ['generator', 'discriminator']
    assert [type(w.optimizer).__name__ for w in wrappers.values()] == ['Adam', 'SGD']
    assert dict(wrappers.items())['discriminator'] is wrappers['discriminator']
    assert wrappers.get_lr() == {'generator.lr': [1e-3], 'discriminator.lr': [0.1]}
    assert wrappers.get_momentum() == {'generator.momentum': [0.5], 'discriminator.momentum': [0.3]}
    assert set(wrappers.param_groups) == {'generator', 'discriminator'}
    assert 'name: generator' in repr(wrappers)
    with pytest.raises(KeyError, match="items are \\['generator', 'discriminator'\\]"):
        wrappers['critic']
    with pytest.raises(TypeError, match='OptimWrapper instances'):
        OptimWrapperDict(generator=torch.optim.SGD(nn.Linear(1, 1).parameters(), lr=0.1))


def test_dict_wide_updates_tell_the_user_to_use_an_item():
    gen, _, wrappers = _gan_wrappers()
    loss = gen(torch.ones(1, 2)).sum()
    for call in (lambda: wrappers.update_params(loss), lambda: wrappers.step(),
                 lambda: wrappers.zero_grad(), lambda: wrappers.backward(loss)):
        with pytest.raises(RuntimeError, match=r"optim_wrapper\['generator'\]") as info:
            call()
        assert not isinstance(info.value, NotImplementedError)
    with pytest.raises(RuntimeError, match='call it on an item'), wrappers.optim_context(gen):
        pass
    wrappers['generator'].update_params(loss)  # the item works
    assert wrappers['generator'].inner_count == 1


def test_state_dict_keyed_by_name_round_trips_and_counts_forward():
    gen, _, wrappers = _gan_wrappers()
    wrappers['generator'].update_params(gen(torch.ones(3, 2)).pow(2).sum())
    state = wrappers.state_dict()
    assert set(state) == {'generator', 'discriminator'}
    _, _, fresh = _gan_wrappers()
    fresh['generator'].optimizer.param_groups[0]['lr'] = 9.0
    fresh.load_state_dict(state)
    assert fresh.get_lr()['generator.lr'] == [1e-3]
    assert len(fresh['generator'].optimizer.state) == 2
    with pytest.raises(KeyError, match='critic'):
        fresh.load_state_dict({'critic': {}})
    wrappers.initialize_count_status(gen, 4, 10)
    assert wrappers['generator'].max_counts == 10 and wrappers['discriminator'].inner_count == 4
