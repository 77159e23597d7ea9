work_dir = './work_dirs/{{ fileBasenameNoExtension }}'
config_dir = '{{fileDirname}}'
names = ['{{ fileBasename }}', '{{ fileExtname }}']
