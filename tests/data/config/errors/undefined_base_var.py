_base_ = '../_base_/datasets/cifar10_bs16.py'
pipeline = {{_base_.val_pipeline}}
