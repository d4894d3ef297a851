"""RegNetX (Radosavovic et al. 2020): stages of grouped bottleneck units with a fixed group width."""

from deploytool.core.keras_env import keras
from deploytool.models.blocks import (bottleneck_block, classifier, conv_block, image_input,
                                      scale_channels)
from deploytool.models.registry import register


def regnet_x(name, input_shape, num_classes, *, stem_width, depths, widths, group_width,
             bottleneck_ratio=1.0, width=1.0, classifier_activation="softmax"):
    """A RegNetX: 3x3/2 stem, stages whose first unit has stride 2 and a projection shortcut,
    every 3x3 convolution grouped in groups of ``group_width`` channels."""
    inputs = image_input(input_shape)
    x = conv_block(inputs, scale_channels(stem_width, width), 3, 2, name="stem")
    for stage, (depth, stage_width) in enumerate(zip(depths, widths), start=1):
        out = scale_channels(stage_width, width, divisor=group_width)
        mid = int(round(out * bottleneck_ratio))
        for index in range(depth):
            x = bottleneck_block(x, mid, out, 2 if index == 0 else 1,
                                 groups=max(1, mid // group_width),
                                 name=f"stage{stage}_block{index + 1}")
    outputs = classifier(x, num_classes, classifier_activation)
    return keras.Model(inputs, outputs, name=name)


@register("regnetx_32", "regnet",
          "RegNetX with 32 layers (bottleneck ratio 1, group width 16, widths 32/80, depths 4/6)")
def regnetx_32(input_shape, num_classes, *, width=1.0, classifier_activation="softmax"):
    """The 32-layer RegNetX of Dive into Deep Learning: k=1, g=16, widths 32/80, depths 4/6."""
    return regnet_x("regnetx_32", input_shape, num_classes, stem_width=32, depths=(4, 6),
                    widths=(32, 80), group_width=16, width=width,
                    classifier_activation=classifier_activation)
