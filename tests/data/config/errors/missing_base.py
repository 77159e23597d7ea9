_base_ = ['../_base_/models/resnet18_cifar.py', '../_base_/models/does_not_exist.py']
