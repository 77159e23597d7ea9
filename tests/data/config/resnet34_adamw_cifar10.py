# Third level: replace the optimizer whole and the schedule list.
_base_ = 'resnet34_8xb16_cifar10.py'
optim_wrapper = dict(
    _delete_=True, type='AmpOptimWrapper', optimizer=dict(type='AdamW', lr=0.001, weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, end=5),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=5),
]
