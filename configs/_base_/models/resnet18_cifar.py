model = dict(
    type='TorchvisionClassifier',
    arch='resnet18',
    num_classes=10,
    in_channels=3,
    data_preprocessor=dict(
        type='ImgDataPreprocessor',
        mean=[125.307, 122.961, 113.8575],
        std=[51.5865, 50.847, 51.255],
    ),
)
