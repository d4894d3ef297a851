"""GoogLeNet (Szegedy et al. 2014) and its batch-normalised variant BN-Inception
(Ioffe & Szegedy 2015: BN everywhere, each 5x5 branch factorised into two 3x3 convolutions,
auxiliary classifiers after inception 4a and 4d that are used only in training)."""

from deploytool.core.keras_env import keras
from deploytool.models.blocks import (classifier, conv_block, dense_block, image_input, pool,
                                      scale_channels)
from deploytool.models.registry import register

# Output layers whose name starts with this prefix are training-only auxiliary heads.
AUX_PREFIX = "aux"

# inception module widths: 1x1, (3x3 reduce, 3x3), (5x5 reduce, 5x5), pool projection
INCEPTION_3 = {"3a": (64, (96, 128), (16, 32), 32), "3b": (128, (128, 192), (32, 96), 64)}
INCEPTION_4 = {
    "4a": (192, (96, 208), (16, 48), 64), "4b": (160, (112, 224), (24, 64), 64),
    "4c": (128, (128, 256), (24, 64), 64), "4d": (112, (144, 288), (32, 64), 64),
    "4e": (256, (160, 320), (32, 128), 128),
}
INCEPTION_5 = {"5a": (256, (160, 320), (32, 128), 128), "5b": (384, (192, 384), (48, 128), 128)}
AUX_AFTER = ("4a", "4d")


def inception(x, widths, *, bn, factorize_5x5, width, name):
    """Four parallel branches (1x1; 1x1->3x3; 1x1->5x5 or 1x1->3x3->3x3; 3x3 max pool->1x1)
    concatenated along channels."""
    c = lambda n: scale_channels(n, width)  # noqa: E731
    c1, (c2r, c2), (c3r, c3), c4 = widths
    b1 = conv_block(x, c(c1), 1, bn=bn, name=f"{name}_1x1")
    b2 = conv_block(x, c(c2r), 1, bn=bn, name=f"{name}_3x3_reduce")
    b2 = conv_block(b2, c(c2), 3, bn=bn, name=f"{name}_3x3")
    b3 = conv_block(x, c(c3r), 1, bn=bn, name=f"{name}_5x5_reduce")
    if factorize_5x5:
        b3 = conv_block(b3, c(c3), 3, bn=bn, name=f"{name}_5x5_a")
        b3 = conv_block(b3, c(c3), 3, bn=bn, name=f"{name}_5x5_b")
    else:
        b3 = conv_block(b3, c(c3), 5, bn=bn, name=f"{name}_5x5")
    b4 = pool(x, "max", 3, 1, padding="same", name=f"{name}_pool")
    b4 = conv_block(b4, c(c4), 1, bn=bn, name=f"{name}_pool_proj")
    return keras.layers.Concatenate(name=f"{name}_concat")([b1, b2, b3, b4])


def auxiliary_head(x, num_classes, classifier_activation, *, bn, width, name):
    """Training-only classifier: 5x5/3 average pool, 1x1 conv (128), FC 1024, dropout 0.7, FC."""
    x = pool(x, "avg", 5, 3, name=f"{name}_pool")
    x = conv_block(x, scale_channels(128, width), 1, bn=bn, name=f"{name}_proj")
    x = keras.layers.Flatten(name=f"{name}_flatten")(x)
    x = dense_block(x, scale_channels(1024, width), dropout=0.7, name=f"{name}_fc")
    logits = keras.layers.Dense(num_classes, name=f"{name}_logits")(x)
    if classifier_activation is None:
        return logits
    return keras.layers.Activation(classifier_activation, dtype="float32", name=name)(logits)


def _googlenet(model_name, input_shape, num_classes, *, bn, factorize_5x5, aux_heads, width,
               classifier_activation, dropout):
    c = lambda n: scale_channels(n, width)  # noqa: E731
    inputs = image_input(input_shape)
    x = conv_block(inputs, c(64), 7, 2, bn=bn, name="stem1")
    x = pool(x, "max", 3, 2, padding="same", name="stem1_pool")
    x = conv_block(x, c(64), 1, bn=bn, name="stem2_reduce")
    x = conv_block(x, c(192), 3, bn=bn, name="stem2")
    x = pool(x, "max", 3, 2, padding="same", name="stem2_pool")
    aux_outputs = []
    for group, pool_name in ((INCEPTION_3, "pool3"), (INCEPTION_4, "pool4"), (INCEPTION_5, None)):
        for module, widths in group.items():
            x = inception(x, widths, bn=bn, factorize_5x5=factorize_5x5, width=width,
                          name=f"inception{module}")
            if aux_heads and module in AUX_AFTER:
                aux_name = f"{AUX_PREFIX}{len(aux_outputs) + 1}"
                aux_outputs.append(auxiliary_head(x, num_classes, classifier_activation, bn=bn,
                                                  width=width, name=aux_name))
        if pool_name:
            x = pool(x, "max", 3, 2, padding="same", name=pool_name)
    outputs = classifier(x, num_classes, classifier_activation, dropout=dropout)
    return keras.Model(inputs, [outputs, *aux_outputs] if aux_outputs else outputs,
                       name=model_name)


@register("googlenet", "googlenet", "GoogLeNet / Inception v1: nine inception modules",
          reference_params=6_800_000, reference_tolerance=0.03,
          reference_source="Szegedy et al. 2014, 6.6-7.0 M without auxiliary heads")
def googlenet(input_shape, num_classes, *, width=1.0, classifier_activation="softmax",
              aux_heads=False, dropout=0.4):
    """GoogLeNet v1 without BN; ``aux_heads=True`` adds the two training-only classifiers."""
    return _googlenet("googlenet", input_shape, num_classes, bn=False, factorize_5x5=False,
                      aux_heads=aux_heads, width=width,
                      classifier_activation=classifier_activation, dropout=dropout)


@register("bn_inception", "googlenet",
          "BN-Inception: GoogLeNet with BN, 5x5 as two 3x3, two training-only auxiliary heads")
def bn_inception(input_shape, num_classes, *, width=1.0, classifier_activation="softmax",
                 aux_heads=True, dropout=0.0):
    """GoogLeNet with batch normalisation and factorised 5x5 branches. With ``aux_heads`` (the
    default) the model has three outputs: 'predictions', 'aux1', 'aux2'; the converters strip
    the auxiliary ones for inference."""
    return _googlenet("bn_inception", input_shape, num_classes, bn=True, factorize_5x5=True,
                      aux_heads=aux_heads, width=width,
                      classifier_activation=classifier_activation, dropout=dropout)


