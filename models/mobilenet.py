"""MobileNetV2 (Sandler et al. 2018): inverted residuals with linear bottlenecks."""

from deploytool.core.keras_env import keras
from deploytool.models.blocks import (classifier, conv_block, image_input, inverted_residual,
                                      scale_channels)
from deploytool.models.registry import register

# expansion t, output channels c, repeats n, first stride s
MOBILENET_V2_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                         (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


@register("mobilenet_v2", "mobilenet", "MobileNetV2 1.0 (17 inverted residual units)",
          3_538_984, 0.005, "keras.applications.MobileNetV2")
def mobilenet_v2(input_shape, num_classes, *, width=1.0, classifier_activation="softmax"):
    """MobileNetV2; ``width`` is the paper's alpha (channels rounded to multiples of 8, the last
    1x1 convolution kept at 1280 unless alpha > 1)."""
    inputs = image_input(input_shape)
    x = conv_block(inputs, scale_channels(32, width), 3, 2, act="relu6", name="stem")
    unit = 0
    for expansion, channels, repeats, stride in MOBILENET_V2_SETTINGS:
        for index in range(repeats):
            x = inverted_residual(x, expansion, scale_channels(channels, width),
                                  stride if index == 0 else 1, name=f"block{unit}")
            unit += 1
    last = scale_channels(1280, width) if width > 1.0 else 1280
    x = conv_block(x, last, 1, act="relu6", name="head")
    outputs = classifier(x, num_classes, classifier_activation)
    return keras.Model(inputs, outputs, name="mobilenet_v2")
