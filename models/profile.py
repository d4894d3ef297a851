"""Static figures of a built model: parameters, multiply-accumulates, foldable BNs, training-only parts."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from deploytool.core.keras_env import keras
from deploytool.models.googlenet import AUX_PREFIX

layers = keras.layers


@dataclass(frozen=True)
class ModelProfile:
    """What :func:`profile_model` measures."""

    params: int
    trainable_params: int
    macs: int
    batchnorm_layers: int
    training_only_outputs: tuple[str, ...]
    dropout_layers: int

    def as_dict(self) -> dict:
        """Plain-JSON form."""
        return {**asdict(self), "training_only_outputs": list(self.training_only_outputs)}


def _spatial(shape) -> int:
    return math.prod(int(d) for d in shape[1:-1])


def layer_macs(layer) -> int:
    """Multiply-accumulates of one forward pass of ``layer`` for a single image (convolutions and
    dense layers; BN, activations and pooling are not counted, as in the papers' figures)."""
    if isinstance(layer, layers.DepthwiseConv2D):
        kh, kw = layer.kernel_size
        return _spatial(layer.output.shape) * kh * kw * int(layer.output.shape[-1])
    if isinstance(layer, layers.Conv2D):
        kh, kw = layer.kernel_size
        in_channels = int(layer.input.shape[-1]) // layer.groups
        return _spatial(layer.output.shape) * kh * kw * in_channels * layer.filters
    if isinstance(layer, layers.Dense):
        positions = math.prod(int(d) for d in layer.input.shape[1:-1]) or 1
        return positions * int(layer.input.shape[-1]) * layer.units
    return 0


def training_only_outputs(model) -> tuple[str, ...]:
    """Names of the outputs that exist only for training (auxiliary classifier heads), as
    :func:`~deploytool.core.model_outputs.output_names` names them (also inside a model that
    calls the zoo model)."""
    from deploytool.core.model_outputs import output_names

    return tuple(name for name in output_names(model) if name.startswith(AUX_PREFIX))


def profile_model(model) -> ModelProfile:
    """Count parameters (BN statistics included, as ``count_params()``), MACs per image, BN layers,
    training-only outputs and dropout layers of a functional model."""
    trainable = sum(int(math.prod(w.shape)) for w in model.trainable_weights)
    return ModelProfile(
        params=int(model.count_params()),
        trainable_params=trainable,
        macs=sum(layer_macs(layer) for layer in model.layers),
        batchnorm_layers=sum(isinstance(l, layers.BatchNormalization) for l in model.layers),
        training_only_outputs=training_only_outputs(model),
        dropout_layers=sum(isinstance(l, layers.Dropout) for l in model.layers),
    )
