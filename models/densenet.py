"""DenseNet-BC (Huang et al. 2016): dense blocks of BN-ReLU-conv layers joined by transitions."""

from deploytool.core.keras_env import keras
from deploytool.models.blocks import (batch_norm, classifier, conv_block, densenet_layer,
                                      densenet_transition, image_input, pool, scale_channels)
from deploytool.models.registry import register

DENSENET_BLOCKS = {121: (6, 12, 24, 16)}


@register("densenet121", "densenet", "DenseNet-121 (growth rate 32, blocks 6/12/24/16)",
          8_062_504, 0.005, "keras.applications.DenseNet121")
def densenet121(input_shape, num_classes, *, width=1.0, classifier_activation="softmax",
                growth_rate=32):
    """DenseNet-121; ``width`` scales the stem and the growth rate."""
    growth = scale_channels(growth_rate, width, divisor=4)
    inputs = image_input(input_shape)
    x = conv_block(inputs, scale_channels(64, width), 7, 2, name="stem")
    x = pool(x, "max", 3, 2, padding="same", name="stem_pool")
    blocks = DENSENET_BLOCKS[121]
    for index, layers_in_block in enumerate(blocks, start=1):
        for layer in range(1, layers_in_block + 1):
            x = densenet_layer(x, growth, name=f"dense{index}_layer{layer}")
        if index < len(blocks):
            x = densenet_transition(x, name=f"transition{index}")
    x = batch_norm(x, "post_bn")
    x = keras.layers.Activation("relu", name="post_relu")(x)
    outputs = classifier(x, num_classes, classifier_activation)
    return keras.Model(inputs, outputs, name="densenet121")
