"""Network in Network (Lin et al. 2013): conv + two 1x1 "mlpconv" layers, global average pooling."""

from deploytool.core.keras_env import keras
from deploytool.models.blocks import conv_block, finish, image_input, pool, scale_channels
from deploytool.models.registry import register


def nin_block(x, channels, kernel_size, strides, padding, name):
    """One mlpconv block: a k x k convolution followed by two 1x1 convolutions, all ReLU."""
    x = conv_block(x, channels, kernel_size, strides, bn=False, padding=padding, name=f"{name}_a")
    x = conv_block(x, channels, 1, bn=False, name=f"{name}_b")
    return conv_block(x, channels, 1, bn=False, name=f"{name}_c")


@register("nin", "nin", "Network in Network: four mlpconv blocks, no dense layers")
def nin(input_shape, num_classes, *, width=1.0, classifier_activation="softmax", dropout=0.5):
    """NiN as in Dive into Deep Learning: the last mlpconv block has one channel per class and its
    global average is the logit."""
    c = lambda n: scale_channels(n, width)  # noqa: E731
    inputs = image_input(input_shape)
    x = nin_block(inputs, c(96), 11, 4, "valid", "nin1")
    x = pool(x, "max", 3, 2, name="pool1")
    x = nin_block(x, c(256), 5, 1, "same", "nin2")
    x = pool(x, "max", 3, 2, name="pool2")
    x = nin_block(x, c(384), 3, 1, "same", "nin3")
    x = pool(x, "max", 3, 2, name="pool3")
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    x = nin_block(x, num_classes, 3, 1, "same", "nin4")
    logits = keras.layers.GlobalAveragePooling2D(name="logits")(x)
    return keras.Model(inputs, finish(logits, classifier_activation), name="nin")

