# An MLP on FashionMNIST (needs the data under data/; see _base_/datasets/fashion_mnist.py).
_base_ = [
    '_base_/models/mlp.py',
    '_base_/datasets/fashion_mnist.py',
    '_base_/schedules/sgd_cosine_10e.py',
    '_base_/default_runtime.py',
]

model = dict(input_size=(28, 28), hidden_channels=(512, 512))
train_dataloader = dict(batch_size=64)
auto_scale_lr = dict(base_batch_size=64)
