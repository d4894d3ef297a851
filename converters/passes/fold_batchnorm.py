"""Fold inference-mode BatchNormalization (and per-channel Normalization) into the convolutions
and dense layers next to it.

A BN that directly follows a Conv2D (grouped too), DepthwiseConv2D, SeparableConv2D (into its
pointwise kernel) or Dense whose only consumer it is, folds into that layer's kernel and bias. Otherwise, a BN whose only consumer is a Conv2D
(ungrouped, 1x1 or 'valid' padding, so no zero padding meets the shift) or a Dense folds into that
following layer. Any other BN (pre-activation ResNet, DenseNet's BN-ReLU-conv, BN after a
concatenation) becomes an explicit per-channel scale-and-shift: a 1x1 depthwise convolution with
bias, which every runtime executes natively.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from deploytool.converters.passes.graph import GraphRewriter
from deploytool.core.keras_env import keras
from deploytool.core.model_outputs import flat_outputs

layers = keras.layers


@dataclass
class FoldReport:
    """What :func:`fold_batchnorm` did and how far the folded model is from the original."""

    batchnorm_layers: int = 0
    normalization_layers: int = 0  # per-channel Normalization layers, folded the same way
    folded_into_previous: list[tuple[str, str]] = field(default_factory=list)
    folded_into_next: list[tuple[str, str]] = field(default_factory=list)
    kept_as_scale_shift: list[tuple[str, str]] = field(default_factory=list)
    kept_as_batchnorm: list[tuple[str, str]] = field(default_factory=list)
    max_abs_diff: float = 0.0
    max_rel_diff: float = 0.0

    @property
    def folded(self) -> int:
        """Number of BN layers that disappeared into a neighbouring layer."""
        return len(self.folded_into_previous) + len(self.folded_into_next)

    def as_dict(self) -> dict:
        """Plain-JSON form, with the counts up front."""
        pairs = {key: [list(pair) for pair in value] if isinstance(value, list) else value
                 for key, value in asdict(self).items()}
        return {"folded": self.folded,
                "kept": len(self.kept_as_scale_shift) + len(self.kept_as_batchnorm), **pairs}

    def summary(self) -> str:
        """One line for the terminal."""
        kept = len(self.kept_as_scale_shift) + len(self.kept_as_batchnorm)
        normalizations = (f" and {self.normalization_layers} Normalization"
                          if self.normalization_layers else "")
        return (f"folded {self.folded} of {self.batchnorm_layers} BatchNorm{normalizations} layers "
                f"({len(self.folded_into_previous)} into the preceding layer, "
                f"{len(self.folded_into_next)} into the following), {kept} kept as scale-and-shift; "
                f"logits differ by at most {self.max_abs_diff:.2e}")


def batchnorm_scale_shift(bn) -> tuple[np.ndarray, np.ndarray]:
    """The per-channel ``scale`` and ``shift`` that inference-mode ``bn`` (a BatchNormalization,
    or a Normalization layer: (x - mean) / max(sqrt(variance), epsilon)) applies:
    y = x*scale + shift."""
    if isinstance(bn, layers.Normalization):
        mean = np.asarray(bn.mean, np.float64).reshape(-1)
        deviation = np.maximum(np.sqrt(np.asarray(bn.variance, np.float64).reshape(-1)),
                               keras.backend.epsilon())
        channels = int(bn.input.shape[-1])
        mean, deviation = np.broadcast_to(mean, channels), np.broadcast_to(deviation, channels)
        return (1.0 / deviation).astype(np.float32), (-mean / deviation).astype(np.float32)
    weights = list(bn.get_weights())
    gamma = weights.pop(0) if bn.scale else None
    beta = weights.pop(0) if bn.center else None
    mean, variance = weights
    scale = 1.0 / np.sqrt(variance + bn.epsilon)
    if gamma is not None:
        scale = scale * gamma
    shift = -mean * scale + (beta if beta is not None else 0.0)
    return scale.astype(np.float32), shift.astype(np.float32)


def _is_channel_last_bn(bn) -> bool:
    axis = bn.axis if isinstance(bn.axis, (list, tuple)) else [bn.axis]
    rank = len(bn.input.shape)
    if isinstance(bn, layers.Normalization) and bn.invert:
        return False
    return len(axis) == 1 and axis[0] % rank == rank - 1


def _per_channel_normalization(layer) -> bool:
    """A Normalization with per-channel statistics: TFLite writes it as elementwise ops with
    (1, 1, 1, C) constants, which OpenCV's TFLite importer broadcasts against the wrong axis of
    its NCHW blob; as a folded or 1x1 depthwise affine every runtime computes it right."""
    return isinstance(layer, layers.Normalization) and np.size(layer.mean) > 1


def _kernel_and_bias(layer, weights) -> tuple[np.ndarray, np.ndarray]:
    first = 1 if isinstance(layer, layers.SeparableConv2D) else 0  # after the depthwise kernel
    kernel = weights[first]
    if layer.use_bias:
        bias = weights[first + 1]
    else:
        bias = np.zeros(layer.compute_output_shape(layer.input.shape)[-1], np.float32)
    return kernel, bias


def _fold_into_previous(graph: GraphRewriter, bn, previous) -> None:
    scale, shift = batchnorm_scale_shift(bn)
    kernel, bias = _kernel_and_bias(previous, graph.weights(previous.name))
    if isinstance(previous, layers.DepthwiseConv2D):  # output channel c*multiplier + m
        kernel = kernel * scale.reshape(kernel.shape[2], kernel.shape[3])
    else:  # Conv2D (grouped too), SeparableConv2D's pointwise kernel and Dense: output last
        kernel = kernel * scale
    graph.update_layer(previous.name, use_bias=True)
    depthwise = [graph.weights(previous.name)[0]] if isinstance(previous, layers.SeparableConv2D) else []
    graph.set_weights(previous.name, [*depthwise, kernel, bias * scale + shift])
    graph.bypass(bn.name)


def _fold_into_next(graph: GraphRewriter, bn, following) -> None:
    scale, shift = batchnorm_scale_shift(bn)
    kernel, bias = _kernel_and_bias(following, graph.weights(following.name))
    if isinstance(following, layers.Dense):
        new_kernel, new_bias = kernel * scale[:, None], bias + shift @ kernel
    else:  # Conv2D kernel (h, w, in, out): input channels on axis 2
        new_kernel = kernel * scale[None, None, :, None]
        new_bias = bias + np.einsum("hwio,i->o", kernel, shift)
    graph.update_layer(following.name, use_bias=True)
    graph.set_weights(following.name, [new_kernel, new_bias.astype(np.float32)])
    graph.bypass(bn.name)


def _replace_with_scale_shift(graph: GraphRewriter, bn) -> None:
    scale, shift = batchnorm_scale_shift(bn)
    config = {"name": bn.name, "trainable": bn.trainable, "dtype": bn.dtype, "kernel_size": [1, 1],
              "strides": [1, 1], "padding": "valid", "depth_multiplier": 1, "use_bias": True,
              "activation": "linear", "data_format": "channels_last", "dilation_rate": [1, 1]}
    entry = graph.entry(bn.name)
    entry["config"] = config
    graph.update_layer(bn.name, class_name="DepthwiseConv2D")
    graph.set_weights(bn.name, [scale.reshape(1, 1, -1, 1), shift])


def _previous_foldable(graph, bn):
    """The layer ``bn`` can fold into, or (None, why not)."""
    (source,) = graph.inputs_of(bn.name)
    previous = graph.layer(source)
    foldable = (isinstance(previous, (layers.Conv2D, layers.DepthwiseConv2D, layers.Dense,
                                      layers.SeparableConv2D))
                and not isinstance(previous, layers.Conv2DTranspose))
    if not foldable:
        return None, f"follows {type(previous).__name__} '{source}'"
    if previous.get_config().get("activation", "linear") != "linear":
        return None, f"'{source}' applies {previous.get_config()['activation']} before it"
    if not graph.single_call(source) or len(graph.consumers_of(source)) != 1 or graph.is_output(source):
        return None, f"the output of '{source}' is also used elsewhere"
    return previous, ""


def _next_foldable(graph, bn):
    consumers = graph.consumers_of(bn.name)
    if len(consumers) != 1 or graph.is_output(bn.name):
        return None
    following = graph.layer(consumers[0])
    if not graph.single_call(following.name):
        return None
    if isinstance(following, layers.Dense):
        return following if len(bn.input.shape) == 2 else None
    if type(following) is layers.Conv2D and following.groups == 1:
        exact = tuple(following.kernel_size) == (1, 1) or following.padding == "valid"
        return following if exact else None
    return None


def fold_batchnorm(model, custom_objects=None, check_samples: int = 4, seed: int = 0,
                   check_images: np.ndarray | None = None):
    """Return ``(folded_model, FoldReport)``: an equivalent model (inference mode) without
    BatchNormalization layers where they can be folded, and explicit scale-and-shift where not.
    The report carries the max abs / relative difference of the logits (a final softmax hides
    differences) on ``check_images`` (the images the model will see), else on random inputs."""
    graph = GraphRewriter(model, custom_objects)
    report = FoldReport()
    batchnorms = [layer for layer in graph.model.layers
                  if isinstance(layer, layers.BatchNormalization)]
    report.batchnorm_layers = len(batchnorms)
    normalizations = [layer for layer in graph.model.layers if _per_channel_normalization(layer)]
    report.normalization_layers = len(normalizations)
    batchnorms += normalizations
    for bn in batchnorms:
        if not graph.single_call(bn.name) or not _is_channel_last_bn(bn):
            report.kept_as_batchnorm.append((bn.name, "shared layer or not on the channel axis"))
            continue
        previous, why_not = _previous_foldable(graph, bn)
        if previous is not None:
            _fold_into_previous(graph, bn, previous)
            report.folded_into_previous.append((bn.name, previous.name))
            continue
        following = _next_foldable(graph, bn)
        if following is not None:
            _fold_into_next(graph, bn, following)
            report.folded_into_next.append((bn.name, following.name))
        elif len(bn.input.shape) == 4:
            _replace_with_scale_shift(graph, bn)
            report.kept_as_scale_shift.append((bn.name, why_not))
        else:
            report.kept_as_batchnorm.append((bn.name, f"{why_not}; rank-{len(bn.input.shape)} input"))
    folded = graph.build()
    report.max_abs_diff, report.max_rel_diff = output_difference(model, folded, check_samples, seed,
                                                                 check_images)
    return folded, report


def output_difference(reference, candidate, samples: int = 4, seed: int = 0,
                      images: np.ndarray | None = None) -> tuple[float, float]:
    """Max abs and max relative difference of every output of two models, compared before a
    final softmax, on ``images`` or else on random inputs (uniform in [0, 1)), in inference
    mode."""
    from deploytool.converters.passes.softmax import detach_softmax

    reference, candidate = detach_softmax(reference)[0], detach_softmax(candidate)[0]
    if images is None:
        rng = np.random.default_rng(seed)
        images = rng.random((samples, *reference.input_shape[1:]), dtype=np.float32)
    batch = np.asarray(images, np.float32)
    expected = flat_outputs(reference, reference(batch, training=False))
    actual = flat_outputs(candidate, candidate(batch, training=False))
    abs_diff = max(float(np.max(np.abs(np.asarray(e) - np.asarray(a))))
                   for e, a in zip(expected, actual))
    magnitude = max(float(np.max(np.abs(np.asarray(e)))) for e in expected) or 1.0
    return abs_diff, abs_diff / magnitude
