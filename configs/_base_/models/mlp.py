model = dict(
    type='MLPClassifier',
    in_channels=1,
    num_classes=10,
    input_size=(8, 8),
    hidden_channels=(128, ),
    # uint8 pixels go to the device as they are and are normalised there
    data_preprocessor=dict(type='ImgDataPreprocessor', mean=[127.5], std=[127.5]),
)
