# torchvision's ResNet-18 on CIFAR-10 (needs the data under data/; see _base_/datasets/cifar10.py).
_base_ = [
    '_base_/models/resnet18_cifar.py',
    '_base_/datasets/cifar10.py',
    '_base_/schedules/sgd_multistep_30e.py',
    '_base_/default_runtime.py',
]

default_hooks = dict(logger=dict(type='LoggerHook', interval=100))
