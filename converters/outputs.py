"""A model's outputs as deploytool treats them: their names, in the model's order, and the kind
of each, which says how a converted output is judged against its Keras reference.

Kinds (see :mod:`deploytool.core.compare`):

- ``scores``: class scores (a softmax or sigmoid output): cosine, top-1 agreement, accuracy;
- ``regression``: values (box offsets, landmarks, logits of nothing in particular): max abs error
  and that error relative to the output's range on the reference;
- ``embedding``: a unit-normalised vector: cosine and nearest-neighbour agreement;
- ``dense``: a per-pixel map with several channels (segmentation): per-pixel argmax agreement.

The kind is inferred from the layer that produces the output and set by the user where the guess
is wrong (``--output-kind NAME=KIND``).
"""

from __future__ import annotations

from deploytool.core.compare import OUTPUT_KINDS
from deploytool.core.errors import UserError


def output_names(model) -> list[str]:
    """The names of ``model``'s outputs, in its order: the layers that produce them (tf_keras'
    ``output_names``; a Keras 3 model's output operations)."""
    from deploytool.core.keras_env import is_keras3_model

    if is_keras3_model(model):
        return [tensor._keras_history.operation.name for tensor in model.outputs]
    return list(model.output_names)


def _producer(model, index: int):
    """The layer that computes output ``index``."""
    from deploytool.core.keras_env import is_keras3_model

    tensor = model.outputs[index]
    if is_keras3_model(model):
        return tensor._keras_history.operation
    return tensor._keras_history.layer


def _activation_name(layer) -> str:
    kind = type(layer).__name__
    if kind == "Softmax":
        return "softmax"
    if kind in ("UnitNormalization", "L2Normalization"):
        return "unit_norm"
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", "") or ""


def infer_kind(model, index: int) -> str:
    """The kind of output ``index`` of ``model``, guessed from its producing layer and shape: a
    softmax or sigmoid gives ``scores`` (``dense`` over a spatial map), a unit normalisation
    ``embedding``, a spatial map with several channels ``dense``, anything else ``regression``.
    A single-output model with a flat output is a classifier (``scores``): deploytool's
    classifiers end at their logits once the softmax is detached."""
    shape = tuple(model.outputs[index].shape)
    activation = _activation_name(_producer(model, index))
    spatial = len(shape) == 4
    if activation == "unit_norm":
        return "embedding"
    if spatial:
        return "dense" if activation in ("softmax", "sigmoid") or (shape[-1] or 1) > 1 else "regression"
    if activation in ("softmax", "sigmoid") or len(model.outputs) == 1:
        return "scores"
    return "regression"


def parse_output_kinds(pairs) -> dict[str, str]:
    """``NAME=KIND`` strings (``--output-kind``) as a dict; a malformed pair or an unknown kind is
    a one-line error."""
    kinds = {}
    for pair in pairs or ():
        name, sep, kind = str(pair).partition("=")
        if not sep or not name or kind not in OUTPUT_KINDS:
            raise UserError(f"--output-kind {pair}: expected NAME=KIND with KIND one of "
                            f"{', '.join(OUTPUT_KINDS)}")
        kinds[name] = kind
    return kinds


def output_kinds(model, given: dict | None = None) -> dict[str, str]:
    """Every output's kind by name, in the model's order: ``given`` (the user's) where it names
    the output, else inferred. A name in ``given`` that is no output is a one-line error."""
    names = output_names(model)
    unknown = [name for name in (given or {}) if name not in names]
    if unknown:
        raise UserError(f"--output-kind {unknown[0]}: the model has no such output; its outputs "
                        f"are {', '.join(names)}")
    return {name: (given or {}).get(name) or infer_kind(model, index)
            for index, name in enumerate(names)}
