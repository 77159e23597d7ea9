model = dict(type='B')
