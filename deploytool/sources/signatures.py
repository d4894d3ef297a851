"""SavedModel folders that hold no Keras model, only a serving signature (Keras 3's
``model.export(path)``, ``tf.saved_model.save``): read as a Keras 3 model that calls the signature
itself (``keras.layers.TFSMLayer``), one output per signature output, named as the signature names
it. Converted through the Keras 3 path, and verified against the same signature."""

from __future__ import annotations

import re
from pathlib import Path

from deploytool.core.errors import UserError

ENDPOINT = "serving_default"


def is_signature_folder(path: Path) -> bool:
    """A SavedModel folder without the Keras metadata tf_keras needs to rebuild a model."""
    return path.is_dir() and (path / "saved_model.pb").exists() and \
        not (path / "keras_metadata.pb").exists()


def _natural(name: str):
    """Sort key that puts output_2 before output_10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def load_signature_model(path, input_shape: tuple[int, int, int] | None = None):
    """The serving signature of the SavedModel at ``path`` as a Keras 3 functional model with
    one image input (fixed at ``input_shape`` where the signature leaves sizes free) and one
    output per signature output, in name order; its ``rebuild_at(shape)`` gives the same at
    another size (:func:`deploytool.sources.input_size.with_input_size` uses it: the layer that
    calls the signature cannot be rebuilt from a config). A folder without a serving signature,
    or one whose signature does not take one float image batch, is a one-line error."""
    from deploytool.core.keras_env import keras3, tf

    path = Path(path)
    try:
        loaded = tf.saved_model.load(str(path))
    except Exception as exc:
        raise UserError(f"{path}: not a loadable SavedModel ({type(exc).__name__}: "
                        f"{(str(exc).strip().splitlines() or [''])[0][:160]})") from None
    signatures = dict(getattr(loaded, "signatures", {}) or {})
    if ENDPOINT not in signatures:
        raise UserError(f"{path}: a SavedModel without a '{ENDPOINT}' signature "
                        f"(it has {', '.join(signatures) or 'none'}); export it with one")
    function = signatures[ENDPOINT]
    inputs = function.structured_input_signature[1]
    if len(inputs) != 1:
        raise UserError(f"{path}: the serving signature takes {len(inputs)} inputs "
                        f"({', '.join(sorted(inputs))}); deploytool feeds one image input")
    (name, spec), = inputs.items()
    if spec.shape.rank != 4 or not spec.dtype.is_floating:
        raise UserError(f"{path}: the serving signature's input '{name}' is {spec.dtype.name} "
                        f"{tuple(spec.shape)}; deploytool feeds float images (batch, height, "
                        "width, channels)")
    shape = tuple(spec.shape[1:])
    if input_shape is not None:
        shape = tuple(want if have is None else have for have, want in zip(shape, input_shape))
    k = keras3()
    layer = k.layers.TFSMLayer(str(path), call_endpoint=ENDPOINT, name="serving_signature")
    image = k.Input(shape, name=name)
    produced = layer(image)
    names = sorted(function.structured_outputs, key=_natural)
    outputs = [k.layers.Identity(name=output)(produced[output]) for output in names]
    model = k.Model(image, outputs if len(outputs) > 1 else outputs[0], name=path.name)
    model.rebuild_at = lambda size: load_signature_model(path, size)
    return model
