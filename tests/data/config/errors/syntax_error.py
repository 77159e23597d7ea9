model = dict(type='ResNet', depth=50)
optimizer = dict(type='SGD', lr=0.1,, momentum=0.9)
