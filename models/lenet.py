"""LeNet-5 with batch normalisation after every convolution and hidden dense layer."""

from deploytool.core.keras_env import keras
from deploytool.models.blocks import (classifier, conv_block, dense_block, image_input, pool,
                                      scale_channels)
from deploytool.models.registry import register


@register("lenet_bn", "lenet", "LeNet-5 with BatchNorm (two 5x5 convs, three dense layers)")
def lenet_bn(input_shape, num_classes, *, width=1.0, classifier_activation="softmax",
             activation="relu"):
    """LeNet-5 with BN (LeCun et al. 1998; Ioffe & Szegedy 2015). ``activation`` is "relu" by
    default; "sigmoid" gives the original non-linearity."""
    inputs = image_input(input_shape)
    x = conv_block(inputs, scale_channels(6, width, 2), 5, act=activation, padding="valid",
                   name="conv1")
    x = pool(x, "avg", 2, name="pool1")
    x = conv_block(x, scale_channels(16, width, 4), 5, act=activation, padding="valid",
                   name="conv2")
    x = pool(x, "avg", 2, name="pool2")
    x = keras.layers.Flatten(name="flatten")(x)
    x = dense_block(x, scale_channels(120, width), act=activation, bn=True, name="fc1")
    x = dense_block(x, scale_channels(84, width), act=activation, bn=True, name="fc2")
    outputs = classifier(x, num_classes, classifier_activation, pooled=True)
    return keras.Model(inputs, outputs, name="lenet_bn")
