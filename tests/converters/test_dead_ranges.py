"""An int8 .tflite that LiteRT's default CPU path refuses to load is a named conversion error."""

import pytest

from deploytool.converters.failures import ConversionError
from deploytool.converters.options import ConvertOptions
from deploytool.workflows.conversion.convert import convert
from support import zoo_source


def test_a_layer_zero_on_every_calibration_image_is_named(tmp_path):
    """This random-weight LeNet's second ReLU is zero on every digit: its int8 range collapses
    and XNNPACK refuses the file."""
    source = zoo_source("lenet_bn", shape=(28, 28, 1), width=0.25, seed=3)
    with pytest.raises(ConversionError, match="conv2_relu"):
        convert(source, ConvertOptions(precision="int8", calib_samples=8, out_dir=tmp_path),
                remember=False)
    assert not list(tmp_path.glob("*.tflite"))
