_base_ = ['base.yaml']
model = dict(backbone=dict(depth=34))
