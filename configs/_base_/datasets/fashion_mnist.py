# FashionMNIST through torchvision; expects data/FashionMNIST/raw (set download=True once to fetch it).
dataset_type = 'TorchvisionDataset'
data_root = 'data'

train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, name='FashionMNIST', data_root=data_root, split='train'),
)
val_dataloader = dict(
    batch_size=256,
    num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, name='FashionMNIST', data_root=data_root, split='test'),
)
test_dataloader = val_dataloader

val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator
