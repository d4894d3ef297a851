"""A model file's image input at the size it will run at: a fully convolutional model saved with
free spatial dimensions (None, None, C) is rebuilt at the fixed size the user names
(``--input-shape H,W,C``), as phones run it; a fixed input is checked against the size named."""

from __future__ import annotations

import copy

from deploytool.core.errors import UserError

# where the input size sits in an InputLayer's config: tf_keras, then Keras 3
SHAPE_KEYS = ("batch_input_shape", "batch_shape")


def declared_input_shape(model) -> tuple:
    """The model's one input as Keras declares it, (batch, H, W, C) with None for a free size;
    several inputs are a one-line error naming them."""
    if len(model.inputs) != 1:
        names = ", ".join(getattr(t, "name", "?") for t in model.inputs)
        raise UserError(f"the model has {len(model.inputs)} inputs ({names}); deploytool feeds "
                        "one image input")
    return tuple(model.inputs[0].shape)


def _fixed_config(config, shape: tuple) -> int:
    """Set every InputLayer's shape in a (nested) model config to (None, *shape); returns how
    many were set."""
    found = 0
    if isinstance(config, dict):
        if config.get("class_name") == "InputLayer":
            inner = config.get("config", {})
            for key in SHAPE_KEYS:
                if key in inner:
                    inner[key] = [None, *shape]
                    found += 1
        for value in config.values():
            found += _fixed_config(value, shape)
    elif isinstance(config, list):
        found += sum(_fixed_config(item, shape) for item in config)
    return found


def with_input_size(model, shape: tuple[int, int, int] | None, origin):
    """``model`` at input (H, W, C) = ``shape``: unchanged when its input already is that size
    (or ``shape`` is None and it has one), rebuilt from its config with the same weights when
    its spatial dimensions are free. A free size without ``shape``, a channel count or fixed
    size other than ``shape``'s, or a model that cannot be rebuilt is a one-line error."""
    declared = declared_input_shape(model)
    if len(declared) != 4:
        name = getattr(model.inputs[0], "name", "input")
        raise UserError(f"{origin}: the model's input '{name}' is {declared}, not images (batch, "
                        "height, width, channels); deploytool feeds image models")
    free = [d is None for d in declared[1:]]
    if shape is None:
        if any(free):
            raise UserError(f"{origin}: the model's input {declared[1:]} has free dimensions; "
                            "give the size to convert at with --input-shape HEIGHT,WIDTH,CHANNELS")
        return model
    shape = tuple(int(d) for d in shape)
    clashes = [f"{name} {have}" for name, have, want, is_free in
               zip(("height", "width", "channels"), declared[1:], shape, free)
               if not is_free and have != want]
    if clashes:
        raise UserError(f"{origin}: --input-shape {','.join(map(str, shape))} does not fit the "
                        f"model's input {declared[1:]} ({', '.join(clashes)} is fixed)")
    if not any(free):
        return model
    return rebuilt_at(model, shape, f"{origin}: ")


def with_free_size(model):
    """``model`` with its input's height and width left free (None), the same weights: for an
    artifact that takes any image size. A model that cannot be rebuilt so is a one-line error."""
    return rebuilt_at(model, (None, None, declared_input_shape(model)[-1]))


def rebuilt_at(model, shape: tuple, origin: str = ""):
    """``model`` rebuilt from its config with input (None, *shape) and the same weights (a model
    that knows how to rebuild itself, ``rebuild_at``, does it itself); a model that cannot be
    rebuilt so is a one-line error."""
    if callable(getattr(model, "rebuild_at", None)):
        return model.rebuild_at(shape)
    config = copy.deepcopy(model.get_config())
    if not _fixed_config(config, shape):
        raise UserError(f"{origin}cannot set the input size of a {type(model).__name__} (no "
                        "input layer in its config); save it with the input size it runs at")
    try:
        rebuilt = type(model).from_config(config)
        rebuilt.set_weights(model.get_weights())
    except Exception as exc:
        raise UserError(f"{origin}could not rebuild the model at input {shape} "
                        f"({type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:160]})") from None
    return rebuilt
