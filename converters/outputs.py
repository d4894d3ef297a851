"""The kind of each of a model's outputs (named by :mod:`deploytool.core.model_outputs`), which
says how a converted output is judged against its Keras reference.

Kinds (see :mod:`deploytool.core.compare`):

- ``scores``: class scores (a softmax or sigmoid output): cosine, top-1 agreement, accuracy;
- ``regression``: values (box offsets, landmarks, logits of nothing in particular): max abs error
  and that error relative to the output's range on the reference;
- ``embedding``: a unit-normalised vector: cosine and nearest-neighbour agreement;
- ``dense``: a per-pixel map with several channels (segmentation): per-pixel argmax agreement.

The kind is inferred from the layer that produces the output (for a SavedModel signature's
outputs, which no layer describes, from what they compute on the parity images) and set by the
user where the guess is wrong (``--output-kind NAME=KIND``).
"""

from __future__ import annotations

from deploytool.core.compare import OUTPUT_KINDS
from deploytool.core.errors import UserError
from deploytool.core.model_outputs import flat_outputs, output_names, producing_layer

# Layers that pass an output through without saying what it is: a SavedModel signature's outputs
OPAQUE_LAYERS = ("Identity", "TFSMLayer")


def _activation_name(layer) -> str:
    kind = type(layer).__name__
    if kind == "Softmax":
        return "softmax"
    if kind in ("UnitNormalization", "L2Normalization"):
        return "unit_norm"
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", "") or ""


def one_value(model, index: int) -> bool:
    """Whether output ``index`` of ``model`` gives one value per image."""
    return all(d == 1 for d in tuple(model.outputs[index].shape)[1:])


def infer_kind(model, index: int, labels=None) -> str | None:
    """The kind of output ``index`` of ``model``, guessed from its producing layer and shape: a
    softmax or sigmoid gives ``scores`` (``dense`` over a spatial map), a unit normalisation
    ``embedding``, a spatial map with several channels ``dense``, anything else ``regression``.
    A single-output model with a flat output of several values is a classifier (``scores``):
    deploytool's classifiers end at their logits once the softmax is detached. One value per
    image with no sigmoid is a regression (an age, a score), unless ``labels`` name two classes:
    then it is a binary logit, decided over 0. None when the layer says nothing (an output
    passed through from a SavedModel's signature)."""
    shape = tuple(model.outputs[index].shape)
    layer = producing_layer(model, index)
    activation = _activation_name(layer)
    spatial = len(shape) == 4
    if type(layer).__name__ in OPAQUE_LAYERS and len(model.outputs) > 1:
        return None
    if activation == "unit_norm":
        return "embedding"
    if spatial:
        return "dense" if activation in ("softmax", "sigmoid") or (shape[-1] or 1) > 1 else "regression"
    if activation in ("softmax", "sigmoid"):
        return "scores"
    if one_value(model, index):
        return "scores" if labels is not None and len(labels) == 2 else "regression"
    return "scores" if len(model.outputs) == 1 else "regression"


def one_value_notes(model, kinds: dict, given: dict | None = None) -> list[str]:
    """For each output of one value per image that deploytool took for a regression by itself
    (no sigmoid, no two labels, not named by ``--output-kind``): a line saying so and how to have
    it judged as a binary decision instead."""
    return [f"output {name}: one value per image, no sigmoid: judged as a regression (error "
            f"against its range); --output-kind {name}=scores (or two --labels) judges it as a "
            "yes/no logit, decided over 0"
            for index, (name, kind) in enumerate(kinds.items())
            if kind == "regression" and one_value(model, index) and name not in (given or {})]


def kind_from_values(values) -> str:
    """The kind of an output judged from what it computed on a few images, (N, ...): a spatial
    map with several channels is ``dense``; rows of non-negative values summing to 1 are class
    ``scores``; rows of unit length an ``embedding``; anything else ``regression``."""
    import numpy as np

    values = np.asarray(values, np.float64)
    if values.ndim == 4 and values.shape[-1] > 1:
        return "dense"
    rows = values.reshape(len(values), -1)
    if rows.shape[1] > 1 and np.all(rows >= 0) and np.allclose(rows.sum(1), 1, atol=1e-3):
        return "scores"
    if rows.shape[1] > 1 and np.allclose(np.linalg.norm(rows, axis=1), 1, atol=1e-3):
        return "embedding"
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


def output_kinds(model, given: dict | None = None, images=None, labels=None) -> dict[str, str]:
    """Every output's kind by name, in the model's order: ``given`` (the user's) where it names
    the output, else inferred from its layer (and the model's ``labels``, see
    :func:`infer_kind`), else (a signature's outputs) from what it computes on ``images``
    (regression without them). A name in ``given`` that is no output is a one-line error."""
    names = output_names(model)
    unknown = [name for name in (given or {}) if name not in names]
    if unknown:
        raise UserError(f"--output-kind {unknown[0]}: the model has no such output; its outputs "
                        f"are {', '.join(names)}")
    kinds = {name: (given or {}).get(name) or infer_kind(model, index, labels)
             for index, name in enumerate(names)}
    if None in kinds.values() and images is not None:
        outputs = flat_outputs(model, model.predict_on_batch(images))
        kinds = {name: kind or kind_from_values(outputs[index])
                 for index, (name, kind) in enumerate(kinds.items())}
    return {name: kind or "regression" for name, kind in kinds.items()}
