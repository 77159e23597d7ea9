data_root = '{{$MMLITE_TEST_DATA_ROOT:data/default}}'
max_epochs = {{'$MMLITE_TEST_EPOCHS:12'}}
