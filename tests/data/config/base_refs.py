# Refers to base variables in both supported ways.
_base_ = ['_base_/datasets/cifar10_bs16.py', '_base_/models/resnet18_cifar.py']
pipeline_copy = {{_base_.train_pipeline}}
crop = {{_base_.train_pipeline.0.crop_size}}
std_list = {{ _base_.data_preprocessor.std }}
nested = dict(root='{{_base_.data_root}}', sizes=[{{_base_.train_pipeline.0.crop_size}}, 64])
ann_file = '{{_base_.data_root}}/annotations/train.json'
num_classes = _base_.model.head.num_classes * 2
train_dataloader = dict(batch_size=_base_.train_dataloader.batch_size * 4)
val_dataloader = dict(dataset=dict(pipeline=[*_base_.test_pipeline, dict(type='Extra')]))
_base_.model.backbone.depth = 50  # edits the inherited value in place, as MMEngine allows
_scratch = 3
import os.path as osp
from collections import OrderedDict


def helper():
    return 1


__private = 'dropped'
