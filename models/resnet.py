"""ResNet v1 (He et al. 2015; stride on the 3x3 conv as in "v1.5") and the pre-activation
ResNet v2 (He et al. 2016). :func:`residual_network` also builds ResNeXt and SE-ResNet."""

from deploytool.core.keras_env import keras
from deploytool.models.blocks import (basic_block, batch_norm, bottleneck_block, classifier,
                                      conv_block, image_input, pool, preact_bottleneck_block,
                                      scale_channels)
from deploytool.models.registry import register

RESNET_DEPTHS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3),
                 152: (3, 8, 36, 3)}
STAGE_PLANES = (64, 128, 256, 512)
EXPANSION = 4


def resnet_stem(inputs, width, *, bn=True):
    """7x7/2 convolution (with BN and ReLU unless ``bn`` is False) and a 3x3/2 max pool."""
    if bn:
        x = conv_block(inputs, scale_channels(64, width), 7, 2, name="stem")
    else:
        x = keras.layers.Conv2D(scale_channels(64, width), 7, 2, padding="same",
                                name="stem_conv")(inputs)
    return pool(x, "max", 3, 2, padding="same", name="stem_pool")


def residual_network(name, input_shape, num_classes, *, depths, bottleneck, width=1.0,
                     classifier_activation="softmax", groups=1, group_width=64,
                     se_reduction=None):
    """A v1 residual network: stem, four stages (stride 2 from the second on), classifier.

    ``bottleneck`` picks the 1x1-3x3-1x1 unit over the basic two-3x3 unit; ``groups`` and
    ``group_width`` (channels per group at the first stage) give ResNeXt's grouped 3x3;
    ``se_reduction`` adds squeeze-and-excitation to every unit.
    """
    inputs = image_input(input_shape)
    x = resnet_stem(inputs, width)
    for stage, (depth, planes) in enumerate(zip(depths, STAGE_PLANES), start=1):
        for index in range(depth):
            strides = 2 if stage > 1 and index == 0 else 1
            block_name = f"stage{stage}_block{index + 1}"
            if bottleneck:
                mid = scale_channels(groups * group_width * planes // 64, width,
                                     divisor=max(8, groups))
                x = bottleneck_block(x, mid, scale_channels(planes * EXPANSION, width), strides,
                                     groups=groups, se_reduction=se_reduction, name=block_name)
            else:
                x = basic_block(x, scale_channels(planes, width), strides,
                                se_reduction=se_reduction, name=block_name)
    outputs = classifier(x, num_classes, classifier_activation)
    return keras.Model(inputs, outputs, name=name)


def resnet_v2(name, input_shape, num_classes, *, depths, width=1.0,
              classifier_activation="softmax"):
    """Pre-activation bottleneck ResNet: BN-ReLU before every convolution, a final BN-ReLU
    before the pool."""
    inputs = image_input(input_shape)
    x = resnet_stem(inputs, width, bn=False)
    for stage, (depth, planes) in enumerate(zip(depths, STAGE_PLANES), start=1):
        for index in range(depth):
            strides = 2 if stage > 1 and index == 0 else 1
            x = preact_bottleneck_block(x, scale_channels(planes, width),
                                        scale_channels(planes * EXPANSION, width), strides,
                                        name=f"stage{stage}_block{index + 1}")
    x = batch_norm(x, "post_bn")
    x = keras.layers.Activation("relu", name="post_relu")(x)
    outputs = classifier(x, num_classes, classifier_activation)
    return keras.Model(inputs, outputs, name=name)


def _register_v1(depth, reference, tolerance, source):
    name = f"resnet{depth}"
    kind = "bottleneck" if depth >= 50 else "basic"

    @register(name, "resnet", f"ResNet-{depth} v1 ({kind} units)", reference, tolerance, source)
    def build(input_shape, num_classes, *, width=1.0, classifier_activation="softmax"):
        return residual_network(name, input_shape, num_classes, depths=RESNET_DEPTHS[depth],
                                bottleneck=depth >= 50, width=width,
                                classifier_activation=classifier_activation)

    build.__doc__ = f"ResNet-{depth} v1 with {kind} units; ``width`` scales every stage."
    return build


resnet18 = _register_v1(18, 11_700_000, 0.01, "He et al. 2015")
resnet34 = _register_v1(34, 21_800_000, 0.01, "He et al. 2015")
resnet50 = _register_v1(50, 25_636_712, 0.005, "keras.applications.ResNet50")
resnet101 = _register_v1(101, 44_707_176, 0.005, "keras.applications.ResNet101")
resnet152 = _register_v1(152, 60_419_944, 0.005, "keras.applications.ResNet152")


@register("resnet50_v2", "resnet", "ResNet-50 v2 (pre-activation bottleneck units)",
          25_613_800, 0.005, "keras.applications.ResNet50V2")
def resnet50_v2(input_shape, num_classes, *, width=1.0, classifier_activation="softmax"):
    """Pre-activation ResNet-50: its BNs follow adds and poolings, not convolutions."""
    return resnet_v2("resnet50_v2", input_shape, num_classes, depths=RESNET_DEPTHS[50],
                     width=width, classifier_activation=classifier_activation)
