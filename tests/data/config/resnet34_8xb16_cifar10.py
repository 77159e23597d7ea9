# Second level of inheritance: only the depth and the lr change.
_base_ = './resnet18_8xb16_cifar10.py'
model = dict(backbone=dict(depth=34))
optim_wrapper = dict(optimizer=dict(lr=0.05))
