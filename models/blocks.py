"""Building blocks shared by every family of the zoo, written once.

conv(-BN)-activation, pre-activation conv, pooling that copes with small feature maps,
squeeze-and-excitation, residual units (basic, bottleneck, grouped, pre-activation), the
inverted residual, dense-net units and the classifier head.
"""

from __future__ import annotations

from deploytool.core.keras_env import keras

layers = keras.layers

# PyTorch's default (momentum 0.1 there). Keras' 0.99 leaves the moving statistics unsettled after
# a few epochs on a small data set, and the model then scores near chance in inference mode.
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5


def _name(prefix: str | None, suffix: str) -> str | None:
    return f"{prefix}_{suffix}" if prefix else None


def scale_channels(channels: int, width: float = 1.0, divisor: int = 8) -> int:
    """``channels`` times the width multiplier, rounded to a multiple of ``divisor`` (and never
    more than 10 % below the exact product). ``width == 1`` returns ``channels`` unchanged."""
    if width == 1.0:
        return int(channels)
    target = channels * width
    value = max(divisor, int(target + divisor / 2) // divisor * divisor)
    if value < 0.9 * target:
        value += divisor
    return value


def batch_norm(x, name=None):
    """BatchNormalization over the channel axis with the zoo's momentum and epsilon."""
    return layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=name)(x)


def activation(x, kind: str | None, name=None):
    """Apply ``kind`` ("relu", "relu6", "sigmoid", ...); None returns ``x`` untouched."""
    if kind is None:
        return x
    if kind == "relu6":
        return layers.ReLU(6.0, name=name)(x)
    return layers.Activation(kind, name=name)(x)


def conv_block(x, filters, kernel_size, strides=1, *, groups=1, act="relu", bn=True,
               padding="same", name=None):
    """Conv2D -> BatchNorm -> activation. Without BN the convolution carries a bias instead."""
    x = layers.Conv2D(filters, kernel_size, strides, padding=padding, groups=groups,
                      use_bias=not bn, name=_name(name, "conv"))(x)
    if bn:
        x = batch_norm(x, _name(name, "bn"))
    return activation(x, act, _name(name, act))


def preact_conv(x, filters, kernel_size, strides=1, *, name=None, use_bias=False):
    """BatchNorm -> ReLU -> Conv2D, the pre-activation order of ResNet v2 and DenseNet."""
    x = batch_norm(x, _name(name, "bn"))
    x = layers.Activation("relu", name=_name(name, "relu"))(x)
    return layers.Conv2D(filters, kernel_size, strides, padding="same", use_bias=use_bias,
                         name=_name(name, "conv"))(x)


def dense_block(x, units, *, act="relu", bn=False, dropout=0.0, name=None):
    """Dense -> (BatchNorm) -> activation -> (Dropout), for the fully connected classifiers."""
    x = layers.Dense(units, use_bias=not bn, name=_name(name, "dense"))(x)
    if bn:
        x = batch_norm(x, _name(name, "bn"))
    x = activation(x, act, _name(name, act))
    if dropout:
        x = layers.Dropout(dropout, name=_name(name, "dropout"))(x)
    return x


def pool(x, kind: str, pool_size: int, strides: int | None = None, padding: str = "valid",
         name=None):
    """Max or average pooling. A 'valid' window larger than the feature map switches to 'same'
    (ceil mode), so every model still builds for inputs as small as 28x28."""
    height, width = x.shape[1], x.shape[2]
    if padding == "valid" and (height < pool_size or width < pool_size):
        padding = "same"
    cls = layers.MaxPooling2D if kind == "max" else layers.AveragePooling2D
    return cls(pool_size, strides or pool_size, padding=padding, name=name)(x)


def squeeze_excite(x, reduction: int = 16, name=None):
    """Squeeze-and-excitation with its two fully connected layers as 1x1 convolutions
    (they deploy as plain convolutions on every runtime)."""
    channels = x.shape[-1]
    s = layers.GlobalAveragePooling2D(keepdims=True, name=_name(name, "squeeze"))(x)
    s = layers.Conv2D(max(1, channels // reduction), 1, activation="relu",
                      name=_name(name, "reduce"))(s)
    s = layers.Conv2D(channels, 1, activation="sigmoid", name=_name(name, "expand"))(s)
    return layers.Multiply(name=_name(name, "scale"))([x, s])


def _residual_output(shortcut, branch, name):
    x = layers.Add(name=_name(name, "add"))([shortcut, branch])
    return layers.Activation("relu", name=_name(name, "out"))(x)


def _projection(x, out_channels, strides, name):
    """Identity where shapes match, else a strided 1x1 conv + BN (ResNet option B)."""
    if strides == 1 and x.shape[-1] == out_channels:
        return x
    return conv_block(x, out_channels, 1, strides, act=None, name=_name(name, "shortcut"))


def basic_block(x, filters, strides=1, *, se_reduction=None, name=None):
    """ResNet-18/34 unit: two 3x3 conv-BN, optional SE, shortcut add, ReLU."""
    y = conv_block(x, filters, 3, strides, name=_name(name, "1"))
    y = conv_block(y, filters, 3, act=None, name=_name(name, "2"))
    if se_reduction:
        y = squeeze_excite(y, se_reduction, _name(name, "se"))
    return _residual_output(_projection(x, filters, strides, name), y, name)


def bottleneck_block(x, mid_channels, out_channels, strides=1, *, groups=1, se_reduction=None,
                     name=None):
    """1x1 reduce -> 3x3 (grouped for ResNeXt/RegNet, carrying the stride as in ResNet v1.5) ->
    1x1 expand, optional SE, shortcut add, ReLU."""
    y = conv_block(x, mid_channels, 1, name=_name(name, "1"))
    y = conv_block(y, mid_channels, 3, strides, groups=groups, name=_name(name, "2"))
    y = conv_block(y, out_channels, 1, act=None, name=_name(name, "3"))
    if se_reduction:
        y = squeeze_excite(y, se_reduction, _name(name, "se"))
    return _residual_output(_projection(x, out_channels, strides, name), y, name)


def preact_bottleneck_block(x, mid_channels, out_channels, strides=1, *, name=None):
    """Pre-activation bottleneck (ResNet v2): BN-ReLU shared by the branch and a projection
    shortcut; no activation after the add."""
    preact = batch_norm(x, _name(name, "preact_bn"))
    preact = layers.Activation("relu", name=_name(name, "preact_relu"))(preact)
    if strides == 1 and x.shape[-1] == out_channels:
        shortcut = x
    else:
        shortcut = layers.Conv2D(out_channels, 1, strides, name=_name(name, "shortcut_conv"))(preact)
    y = layers.Conv2D(mid_channels, 1, use_bias=False, name=_name(name, "1_conv"))(preact)
    y = preact_conv(y, mid_channels, 3, strides, name=_name(name, "2"))
    y = preact_conv(y, out_channels, 1, name=_name(name, "3"), use_bias=True)
    return layers.Add(name=_name(name, "add"))([shortcut, y])


def inverted_residual(x, expansion, out_channels, strides=1, *, name=None):
    """MobileNetV2 unit: 1x1 expand (ReLU6) -> 3x3 depthwise (ReLU6) -> 1x1 linear projection,
    with a shortcut add when the shape is kept."""
    in_channels = x.shape[-1]
    y = x
    if expansion != 1:
        y = conv_block(y, in_channels * expansion, 1, act="relu6", name=_name(name, "expand"))
    y = layers.DepthwiseConv2D(3, strides, padding="same", use_bias=False,
                               name=_name(name, "depthwise_conv"))(y)
    y = batch_norm(y, _name(name, "depthwise_bn"))
    y = activation(y, "relu6", _name(name, "depthwise_relu6"))
    y = conv_block(y, out_channels, 1, act=None, name=_name(name, "project"))
    if strides == 1 and in_channels == out_channels:
        y = layers.Add(name=_name(name, "add"))([x, y])
    return y


def densenet_layer(x, growth_rate, bn_size=4, *, name=None):
    """DenseNet-BC layer: BN-ReLU-1x1 conv (bn_size*k) -> BN-ReLU-3x3 conv (k), concatenated."""
    y = preact_conv(x, bn_size * growth_rate, 1, name=_name(name, "1"))
    y = preact_conv(y, growth_rate, 3, name=_name(name, "2"))
    return layers.Concatenate(name=_name(name, "concat"))([x, y])


def densenet_transition(x, compression=0.5, *, name=None):
    """DenseNet transition: BN-ReLU-1x1 conv (compressing the channels) -> 2x2 average pool."""
    x = preact_conv(x, int(x.shape[-1] * compression), 1, name=name)
    return pool(x, "avg", 2, 2, name=_name(name, "pool"))


def classifier(x, num_classes, classifier_activation="softmax", *, dropout=0.0, pooled=False):
    """Global average pool (unless ``pooled``) -> optional dropout -> Dense 'logits' ->
    optional activation 'predictions' (kept in float32 for mixed-precision training)."""
    if not pooled:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if dropout:
        x = layers.Dropout(dropout, name="head_dropout")(x)
    x = layers.Dense(num_classes, name="logits")(x)
    return finish(x, classifier_activation)


def finish(logits, classifier_activation="softmax"):
    """The model's output: the logits, or ``classifier_activation`` of them named 'predictions'."""
    if classifier_activation is None:
        return logits
    return layers.Activation(classifier_activation, dtype="float32", name="predictions")(logits)


def image_input(input_shape):
    """The model's input layer, named 'input'."""
    return keras.Input(shape=tuple(input_shape), name="input")
