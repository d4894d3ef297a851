"""ResNeXt (Xie et al. 2016): ResNet bottlenecks whose 3x3 convolution is grouped."""

from deploytool.models.registry import register
from deploytool.models.resnet import RESNET_DEPTHS, residual_network


@register("resnext50_32x4d", "resnext", "ResNeXt-50 32x4d (cardinality 32, 4 channels a group)",
          25_000_000, 0.01, "Xie et al. 2016")
def resnext50_32x4d(input_shape, num_classes, *, width=1.0, classifier_activation="softmax"):
    """ResNeXt-50 with 32 groups of 4 channels in the first stage's 3x3 convolution."""
    return residual_network("resnext50_32x4d", input_shape, num_classes,
                            depths=RESNET_DEPTHS[50], bottleneck=True, groups=32, group_width=4,
                            width=width, classifier_activation=classifier_activation)
