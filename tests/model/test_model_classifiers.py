"""The example classifiers the runnable configs build."""
import pytest
import torch
from torch import nn

from mmlite.model import MLPClassifier, TorchvisionClassifier
from mmlite.registry import MODELS


def _digits_like_batch(n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (n,), generator=g)
    # Class-dependent images so a few steps of training visibly help.
    inputs = (labels.view(n, 1, 1, 1).float() * 25 + torch.rand(n, 1, 8, 8, generator=g) * 5).to(torch.uint8)
    return dict(inputs=inputs, labels=labels)


def _mlp(**kwargs):
    torch.manual_seed(0)
    cfg = dict(type='MLPClassifier', in_channels=1, num_classes=10, hidden_channels=(32,),
               data_preprocessor=dict(type='ImgDataPreprocessor', mean=[127.5], std=[127.5]))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def test_mlp_modes(fake_optim_wrapper):
    model = _mlp()
    batch = _digits_like_batch()
    data = model.data_preprocessor(batch)
    assert data['inputs'].dtype == torch.float32
    logits = model(data['inputs'])
    assert logits.shape == (16, 10)
    loss = model(**data, mode='loss')
    assert set(loss) == {'loss'} and loss['loss'].requires_grad
    preds = model.val_step(batch)
    assert len(preds) == 16
    first = preds[0]
    assert set(first) == {'pred_score', 'pred_label', 'gt_label'}
    assert first['pred_score'].shape == (10,) and first['pred_score'].sum().item() == pytest.approx(1.0)
    assert first['pred_label'].dim() == 0 and first['gt_label'].dim() == 0
    assert first['pred_label'] == first['pred_score'].argmax()
    assert first['gt_label'] == batch['labels'][0]
    no_labels = model.test_step(dict(inputs=batch['inputs']))
    assert 'gt_label' not in no_labels[0]
    with pytest.raises(ValueError, match="mode must be 'loss', 'predict' or 'tensor'"):
        model(data['inputs'], mode='probs')


def test_mlp_learns_with_train_step(fake_optim_wrapper):
    model = _mlp(dropout=0.1)
    wrapper = fake_optim_wrapper(model.parameters(), lr=0.5)
    batch = _digits_like_batch(64)
    losses = [model.train_step(batch, wrapper)['loss'] for _ in range(20)]
    assert losses[-1] < 0.7 * losses[0]


def test_pseudo_collated_lists_are_stacked():
    model = _mlp()
    batch = _digits_like_batch(4)
    listed = dict(inputs=list(batch['inputs']), labels=list(batch['labels']))
    stacked_preds = model.val_step(batch)
    listed_preds = model.val_step(listed)
    assert torch.allclose(stacked_preds[2]['pred_score'], listed_preds[2]['pred_score'])
    int_labels = dict(inputs=list(batch['inputs']), labels=[int(v) for v in batch['labels']])
    assert model.val_step(int_labels)[3]['gt_label'] == batch['labels'][3]
    # Without an image preprocessor, the classifier stacks the list itself.
    plain = MLPClassifier(in_channels=1, num_classes=10)
    out = plain(**plain.data_preprocessor(dict(inputs=[torch.zeros(1, 8, 8)] * 3,
                                                labels=[torch.tensor(1)] * 3)), mode='loss')
    assert out['loss'].dim() == 0


def test_torchvision_classifier_adapts_channels_and_never_downloads(fake_optim_wrapper):
    torch.manual_seed(0)
    model = TorchvisionClassifier(arch='resnet18', num_classes=4, in_channels=1, channels_last=True)
    assert model.network.conv1.in_channels == 1 and model.network.fc.out_features == 4
    assert model.network.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    batch = dict(inputs=torch.randn(2, 1, 32, 32), labels=torch.tensor([0, 3]))
    log_vars = model.train_step(batch, fake_optim_wrapper(model.parameters()))
    assert log_vars['loss'].dim() == 0
    model.eval()
    preds = model.val_step(batch)
    assert len(preds) == 2 and preds[0]['pred_score'].shape == (4,)
    with pytest.raises(ValueError, match='never'):
        TorchvisionClassifier(pretrained=True)
    with pytest.raises(ValueError, match='resnet18'):
        TorchvisionClassifier(arch='resnet81')


def test_classifier_init_cfg_applies():
    model = _mlp(init_cfg=dict(type='Constant', layer='Linear', val=0.5, bias=0.25))
    model.init_weights()
    assert all(torch.all(m.weight == 0.5) for m in model.modules() if isinstance(m, nn.Linear))
