"""VGG (Simonyan & Zisserman 2014): stacks of 3x3 convolutions between 2x2 max pools."""

from deploytool.core.keras_env import keras
from deploytool.models.blocks import (classifier, conv_block, dense_block, image_input, pool,
                                      scale_channels)
from deploytool.models.registry import register

# (number of convs, channels) per stage
VGG_STAGES = {
    "vgg11": ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512)),
    "vgg16": ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512)),
}


def _vgg(name, input_shape, num_classes, width, classifier_activation, batch_norm, dropout):
    inputs = image_input(input_shape)
    x = inputs
    for stage, (convs, channels) in enumerate(VGG_STAGES[name], start=1):
        for i in range(1, convs + 1):
            x = conv_block(x, scale_channels(channels, width), 3, bn=batch_norm,
                           name=f"block{stage}_conv{i}")
        x = pool(x, "max", 2, name=f"block{stage}_pool")
    x = keras.layers.Flatten(name="flatten")(x)
    x = dense_block(x, scale_channels(4096, width), dropout=dropout, name="fc1")
    x = dense_block(x, scale_channels(4096, width), dropout=dropout, name="fc2")
    outputs = classifier(x, num_classes, classifier_activation, pooled=True)
    return keras.Model(inputs, outputs, name=name)


@register("vgg11", "vgg", "VGG-11 (configuration A): 8 convs + 3 dense layers",
          reference_params=132_863_336, reference_source="torchvision vgg11")
def vgg11(input_shape, num_classes, *, width=1.0, classifier_activation="softmax",
          batch_norm=False, dropout=0.5):
    """VGG-11; ``batch_norm=True`` adds BN after every convolution."""
    return _vgg("vgg11", input_shape, num_classes, width, classifier_activation, batch_norm, dropout)


@register("vgg16", "vgg", "VGG-16 (configuration D): 13 convs + 3 dense layers",
          reference_params=138_357_544, reference_source="keras.applications.VGG16",
          learning_rate=1e-4)  # 13 plain convolutions, no BN: at 1e-3 it stays at chance on digits
def vgg16(input_shape, num_classes, *, width=1.0, classifier_activation="softmax",
          batch_norm=False, dropout=0.5):
    """VGG-16; ``batch_norm=True`` adds BN after every convolution."""
    return _vgg("vgg16", input_shape, num_classes, width, classifier_activation, batch_norm, dropout)
