"""tf2onnx's optimizers keep no copy of the weights per round: a model's ONNX export grows this
process's peak memory by a bounded multiple of its weights (VGG-11 at 224x224 was killed at
24 GiB before)."""

import subprocess
import sys

PROBE = """
import resource
import numpy as np
from deploytool.core.keras_env import keras
from deploytool.converters.targets.onnx.export import export_onnx
inputs = keras.Input((4, 4, 256))
hidden = keras.layers.Dense(4096, name="big")(keras.layers.Flatten()(inputs))
model = keras.Model(inputs, keras.layers.Dense(10)(hidden))
model(np.zeros((1, 4, 4, 256), np.float32))
weights = sum(w.nbytes for w in model.get_weights())
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
export_onnx(model, 13)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print((after - before) / weights)
"""


def test_the_onnx_export_holds_no_copy_of_the_weights_per_optimizer_round():
    # 67 MB of weights: measured 20.5x with the fix (TensorFlow's freezing, mostly), 43.5x
    # without it (tf2onnx's per-optimizer graph copies and cleared-but-kept node attributes)
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    growth = float(done.stdout.strip().splitlines()[-1])
    assert growth < 30, f"peak memory grew by {growth:.1f}x the weights"


CALIBRATION_PROBE = """
import resource, sys
import numpy as np
from deploytool.core.keras_env import keras
from deploytool.converters.targets.onnx.export import export_onnx
from deploytool.converters.targets.onnx.quantize import quantize_onnx_int8
inputs = keras.Input((64, 64, 3))
x = inputs
for _ in range(4):
    x = keras.layers.Conv2D(64, 3, padding="same", activation="relu")(x)
model = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(x)))
images = np.random.default_rng(0).random((96, 64, 64, 3), dtype=np.float32)
proto = export_onnx(model, 13)
activations = 8 * 64 * 64 * 64 * 4 * len(images)  # every convolution's and ReLU's output
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
quantize_onnx_int8(proto, images, method="percentile", chunk=int(sys.argv[1]))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print((after - before) / activations)
"""


def test_histogram_calibration_holds_a_few_images_activations_not_all_of_them():
    # measured: 0.15x every image's activations in slices of 8, 1.35x in one pass (ConvNeXtTiny's
    # percentile calibration at 96x96 grew past 24 GiB in one pass)
    done = subprocess.run([sys.executable, "-c", CALIBRATION_PROBE, "8"], capture_output=True,
                          text=True, check=True)
    growth = float(done.stdout.strip().splitlines()[-1])
    assert growth < 0.5, f"peak memory grew by {growth:.2f}x all images' activations"


def test_min_max_calibration_in_slices_gives_the_same_ranges_as_in_one_pass():
    import numpy as np
    import onnx

    from deploytool.core.keras_env import keras
    from deploytool.converters.targets.onnx.export import export_onnx
    from deploytool.converters.targets.onnx.quantize import calibration_stride, quantize_onnx_int8

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    hidden = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    proto = export_onnx(keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(hidden))), 13)
    images = np.random.default_rng(1).random((12, 8, 8, 3), dtype=np.float32)
    assert calibration_stride(12) == 6 and calibration_stride(13) == 1 and calibration_stride(4) == 4
    scales = [{t.name: onnx.numpy_helper.to_array(t).tolist()
               for t in quantize_onnx_int8(proto, images, chunk=chunk).graph.initializer
               if t.name.endswith("_scale")} for chunk in (4, 12)]
    assert scales[0] and scales[0] == scales[1]
