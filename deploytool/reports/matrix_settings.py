"""How the matrices are made, in one place the CLI reads without importing TensorFlow: the
trained matrix's training recipe and image counts, the random-weight matrix's input, and the
own-models page's image counts."""

EPOCHS = 30  # the most; training stops after PATIENCE epochs without a better validation accuracy
PATIENCE = 5
BATCH_SIZE = 32  # 40 steps an epoch on digits' 1,293 training images (64: alexnet 53 %, 32: 92 %)
WIDTH = 0.25
SAMPLES = 360  # every held-out digit
RANDOM_INPUT_SHAPE = (32, 32, 3)  # the random-weight matrix's models (trained ones take digits)
RANDOM_SAMPLES = 32
OWN_MODELS_SAMPLES = 32  # held-out images each own-models cell is verified on
OWN_MODELS_CALIB_SAMPLES = 100
