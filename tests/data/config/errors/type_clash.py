_base_ = '../_base_/default_runtime.py'
log_level = dict(level='INFO')
