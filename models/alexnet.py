"""AlexNet (Krizhevsky et al. 2012), single-tower, without local response normalisation."""

from deploytool.core.keras_env import keras
from deploytool.models.blocks import (classifier, conv_block, dense_block, image_input, pool,
                                      scale_channels)
from deploytool.models.registry import register


@register("alexnet", "alexnet", "AlexNet: five convs (11x11/4 stem), three dense layers with dropout",
          62_378_344, 0.01, "Krizhevsky et al. 2012")
def alexnet(input_shape, num_classes, *, width=1.0, classifier_activation="softmax", dropout=0.5):
    """AlexNet with the paper's channel widths (96-256-384-384-256) and a 6x6x256 feature map at
    224x224 (62.4 M parameters)."""
    c = lambda n: scale_channels(n, width)  # noqa: E731
    inputs = image_input(input_shape)
    x = keras.layers.ZeroPadding2D(2, name="pad1")(inputs)
    x = conv_block(x, c(96), 11, 4, bn=False, padding="valid", name="conv1")
    x = pool(x, "max", 3, 2, name="pool1")
    x = conv_block(x, c(256), 5, bn=False, name="conv2")
    x = pool(x, "max", 3, 2, name="pool2")
    x = conv_block(x, c(384), 3, bn=False, name="conv3")
    x = conv_block(x, c(384), 3, bn=False, name="conv4")
    x = conv_block(x, c(256), 3, bn=False, name="conv5")
    x = pool(x, "max", 3, 2, name="pool5")
    x = keras.layers.Flatten(name="flatten")(x)
    x = dense_block(x, c(4096), dropout=dropout, name="fc6")
    x = dense_block(x, c(4096), dropout=dropout, name="fc7")
    outputs = classifier(x, num_classes, classifier_activation, pooled=True)
    return keras.Model(inputs, outputs, name="alexnet")
