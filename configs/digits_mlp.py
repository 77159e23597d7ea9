# Runs offline in seconds: an MLP on scikit-learn's 8x8 digits.
#   python tools/train.py configs/digits_mlp.py
_base_ = [
    '_base_/models/mlp.py',
    '_base_/datasets/digits.py',
    '_base_/schedules/sgd_cosine_10e.py',
    '_base_/default_runtime.py',
]

default_hooks = dict(logger=dict(type='LoggerHook', interval=20))
