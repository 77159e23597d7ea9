"""Config.fromfile throughput on a generated tree of inherited configs, shaped like an
OpenMMLab detection repo: four ``_base_`` files (runtime, schedule, dataset, model), then three
levels of inheriting configs that edit nested keys, use ``{{_base_.xxx}}`` text substitution
and ``_base_.xxx`` variable references, and ``_delete_=True``.

    python benchmarks/config.py [--leaves 20] [--repeats 5]

Each engine parses every leaf config ``--repeats`` times in a fresh process (best round
reported, ms per file). MMEngine's ``Config.fromfile`` is measured too when an interpreter
with mmengine is found (``--mmengine-python``, default /work/bench-venv/bin/python).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap

DEFAULT_MMENGINE_PYTHON = '/work/bench-venv/bin/python'

RUNTIME = '''
default_scope = 'mmdet'
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='DetVisualizationHook'))
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='DetLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
'''

SCHEDULE = '''
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=12, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1)]
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001))
auto_scale_lr = dict(enable=False, base_batch_size=16)
'''

DATASET = '''
dataset_type = 'CocoDataset'
data_root = 'data/coco/'
backend_args = None
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))]
train_dataloader = dict(
    batch_size=2, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='annotations/instances_train2017.json',
                 data_prefix=dict(img='train2017/'),
                 filter_cfg=dict(filter_empty_gt=True, min_size=32),
                 pipeline=train_pipeline, backend_args=backend_args))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='annotations/instances_val2017.json',
                 data_prefix=dict(img='val2017/'), test_mode=True,
                 pipeline=test_pipeline, backend_args=backend_args))
test_dataloader = val_dataloader
val_evaluator = dict(type='CocoMetric', ann_file=data_root + 'annotations/instances_val2017.json',
                     metric='bbox', format_only=False, backend_args=backend_args)
test_evaluator = val_evaluator
'''

MODEL = '''
model = dict(
    type='FasterRCNN',
    data_preprocessor=dict(type='DetDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_size_divisor=32),
    backbone=dict(type='ResNet', depth=50, num_stages=4, out_indices=(0, 1, 2, 3),
                  frozen_stages=1, norm_cfg=dict(type='BN', requires_grad=True), norm_eval=True,
                  style='pytorch',
                  init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),
    neck=dict(type='FPN', in_channels=[256, 512, 1024, 2048], out_channels=256, num_outs=5),
    rpn_head=dict(
        type='RPNHead', in_channels=256, feat_channels=256,
        anchor_generator=dict(type='AnchorGenerator', scales=[8], ratios=[0.5, 1.0, 2.0],
                              strides=[4, 8, 16, 32, 64]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0, .0, .0, .0],
                        target_stds=[1.0, 1.0, 1.0, 1.0]),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
    roi_head=dict(
        type='StandardRoIHead',
        bbox_roi_extractor=dict(type='SingleRoIExtractor',
                                roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
                                out_channels=256, featmap_strides=[4, 8, 16, 32]),
        bbox_head=dict(type='Shared2FCBBoxHead', in_channels=256, fc_out_channels=1024,
                       roi_feat_size=7, num_classes=80,
                       bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.],
                                       target_stds=[0.1, 0.1, 0.2, 0.2]),
                       reg_class_agnostic=False,
                       loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
                       loss_bbox=dict(type='L1Loss', loss_weight=1.0))),
    train_cfg=dict(
        rpn=dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.7, neg_iou_thr=0.3,
                               min_pos_iou=0.3, match_low_quality=True, ignore_iof_thr=-1),
                 sampler=dict(type='RandomSampler', num=256, pos_fraction=0.5,
                              neg_pos_ub=-1, add_gt_as_proposals=False),
                 allowed_border=-1, pos_weight=-1, debug=False),
        rpn_proposal=dict(nms_pre=2000, max_per_img=1000,
                          nms=dict(type='nms', iou_threshold=0.7), min_bbox_size=0),
        rcnn=dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5,
                                min_pos_iou=0.5, match_low_quality=False, ignore_iof_thr=-1),
                  sampler=dict(type='RandomSampler', num=512, pos_fraction=0.25,
                               neg_pos_ub=-1, add_gt_as_proposals=True),
                  pos_weight=-1, debug=False)),
    test_cfg=dict(
        rpn=dict(nms_pre=1000, max_per_img=1000, nms=dict(type='nms', iou_threshold=0.7),
                 min_bbox_size=0),
        rcnn=dict(score_thr=0.05, nms=dict(type='nms', iou_threshold=0.5),
                  max_per_img=100)))
'''

LEVEL1 = '''
_base_ = ['../_base_/models/faster-rcnn_r50_fpn.py', '../_base_/datasets/coco_detection.py',
          '../_base_/schedules/schedule_1x.py', '../_base_/default_runtime.py']
'''

LEVEL2 = '''
_base_ = './faster-rcnn_r50_fpn_1x_coco.py'
model = dict(backbone=dict(depth=101,
                           init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet101')))
'''

# The leaves: schedule changes, a replaced pipeline, base-variable references of both kinds.
LEAF = '''
_base_ = './faster-rcnn_r101_fpn_1x_coco.py'
max_epochs = {epochs}
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True,
         milestones=[{m1}, {m2}], gamma=0.1)]
train_pipeline = [
    *_base_.train_pipeline[:2],
    dict(type='RandomResize', scale=[(1333, 640), (1333, 800)], keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')]
train_dataloader = dict(batch_size={batch}, dataset=dict(pipeline=train_pipeline))
test_pipeline = {{{{_base_.test_pipeline}}}}
model = dict(roi_head=dict(bbox_head=dict(num_classes={classes})),
             neck=dict(_delete_=True, type='PAFPN', in_channels=[256, 512, 1024, 2048],
                       out_channels=256, num_outs=5))
optim_wrapper = dict(optimizer=dict(lr=_base_.optim_wrapper.optimizer.lr * {batch} / 2))
work_dir = '{{{{_base_.data_root}}}}work_dirs/leaf_{index}'
'''


def write_tree(root: str, leaves: int) -> list[str]:
    """Write the tree under ``root``; return the leaf config paths."""
    files = {
        '_base_/default_runtime.py': RUNTIME,
        '_base_/schedules/schedule_1x.py': SCHEDULE,
        '_base_/datasets/coco_detection.py': DATASET,
        '_base_/models/faster-rcnn_r50_fpn.py': MODEL,
        'faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py': LEVEL1,
        'faster_rcnn/faster-rcnn_r101_fpn_1x_coco.py': LEVEL2,
    }
    paths = []
    for index in range(leaves):
        epochs = 12 + 12 * (index % 3)
        name = f'faster_rcnn/faster-rcnn_r101_fpn_leaf{index}_coco.py'
        files[name] = LEAF.format(epochs=epochs, m1=epochs * 2 // 3, m2=epochs - 1,
                                  batch=2 + index % 4, classes=80 - index, index=index)
        paths.append(os.path.join(root, name))
    for name, text in files.items():
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            f.write(textwrap.dedent(text).lstrip())
    return paths


def _worker(engine: str, paths: list[str], repeats: int) -> dict:
    import time
    if engine == 'mmlite':
        from mmlite.config import Config
    else:
        from mmengine.config import Config
    first = Config.fromfile(paths[0])  # imports and caches warmed, and a sanity check
    assert first.model.roi_head.bbox_head.num_classes == 80, first.model.roi_head.bbox_head
    assert first.model.neck.type == 'PAFPN' and 'add_extra_convs' not in first.model.neck
    assert first.test_pipeline[-1].type == 'PackDetInputs'
    rounds = []
    for _ in range(repeats):
        start = time.perf_counter()
        for path in paths:
            Config.fromfile(path)
        rounds.append((time.perf_counter() - start) / len(paths))
    return dict(best=min(rounds), rounds=rounds)


def _run(python: str, engine: str, paths: list[str], repeats: int) -> dict:
    code = (f'import json, sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); '
            f'import importlib.util as u; spec = u.spec_from_file_location("cfgbench", '
            f'{os.path.abspath(__file__)!r}); m = u.module_from_spec(spec); '
            f'spec.loader.exec_module(m); '
            f'print(json.dumps(m._worker({engine!r}, {paths!r}, {repeats})))')
    done = subprocess.run([python, '-c', code], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f'{engine} worker failed:\n{done.stderr[-3000:]}')
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--leaves', type=int, default=20)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--mmengine-python', default=DEFAULT_MMENGINE_PYTHON)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix='config_tree_') as root:
        paths = write_tree(root, args.leaves)
        results = {'mmlite': _run(sys.executable, 'mmlite', paths, args.repeats)}
        mmengine_ok = os.path.exists(args.mmengine_python) and subprocess.run(
            [args.mmengine_python, '-c', 'import mmengine.config'], capture_output=True).returncode == 0
        if mmengine_ok:
            results['mmengine'] = _run(args.mmengine_python, 'mmengine', paths, args.repeats)
        else:
            print('mmengine is not importable: its column is skipped')
    print(f'{args.leaves} leaf configs, each 3 levels over 4 _base_ files; best of {args.repeats} rounds')
    print(f'{"engine":<10} {"ms/file":>8} {"files/s":>8}')
    for engine, result in results.items():
        print(f'{engine:<10} {result["best"] * 1e3:8.2f} {1 / result["best"]:8.1f}')
    if 'mmengine' in results:
        print(f'mmlite / mmengine time: {results["mmlite"]["best"] / results["mmengine"]["best"]:.2f}')


if __name__ == '__main__':
    main()
