"""Squeeze-and-excitation networks (Hu et al. 2017): SE after the last BN of every residual unit,
its fully connected layers written as 1x1 convolutions."""

from deploytool.models.registry import register
from deploytool.models.resnet import RESNET_DEPTHS, residual_network

SE_REDUCTION = 16


@register("se_resnet50", "senet", "SE-ResNet-50 (reduction 16)", 28_100_000, 0.01,
          "Hu et al. 2017")
def se_resnet50(input_shape, num_classes, *, width=1.0, classifier_activation="softmax"):
    """ResNet-50 v1 with a squeeze-and-excitation block in every bottleneck."""
    return residual_network("se_resnet50", input_shape, num_classes, depths=RESNET_DEPTHS[50],
                            bottleneck=True, se_reduction=SE_REDUCTION, width=width,
                            classifier_activation=classifier_activation)


@register("se_resnext50_32x4d", "senet", "SE-ResNeXt-50 32x4d (reduction 16)", 27_600_000, 0.01,
          "Hu et al. 2017")
def se_resnext50_32x4d(input_shape, num_classes, *, width=1.0, classifier_activation="softmax"):
    """ResNeXt-50 32x4d with a squeeze-and-excitation block in every bottleneck."""
    return residual_network("se_resnext50_32x4d", input_shape, num_classes,
                            depths=RESNET_DEPTHS[50], bottleneck=True, groups=32, group_width=4,
                            se_reduction=SE_REDUCTION, width=width,
                            classifier_activation=classifier_activation)
