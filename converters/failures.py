"""Why a converter refused a model, in one line: the Keras layer it choked on (found from the
TensorFlow op names in the converter's error text), the layer's type and the converter's reason.
Shared by every export target."""

from __future__ import annotations

import re

from deploytool.converters.tracing import inference_function
from deploytool.core.errors import UserError


class ConversionError(UserError):
    """A converter refused the model; the message names the converter and its first error line."""


def _layers_of(model) -> list:
    flatten = getattr(model, "_flatten_layers", None)
    return list(flatten(include_self=False)) if flatten else list(model.layers)


def failing_layer(text: str, model):
    """The layer of ``model`` a converter's error text points at: TensorFlow op names are
    prefixed with the Keras layer names (``model/up_sampling2d/resize/ScaleAndTranslate``); the
    one named first in the text, longest name first where names share a prefix. None if none."""
    found = {}
    for layer in sorted(_layers_of(model), key=lambda layer: -len(layer.name)):
        # Keras 3 numbers the scope of a layer called again by its model: "conv_1/"
        match = re.search(rf"(?:^|[/\"' ]){re.escape(layer.name)}(?:_\d+)?/", text)
        if match and not any(match.start() >= start and match.end() <= end
                             for start, end in found.values()):
            found[layer.name] = (match.start(), match.end())
    if not found:
        return None
    name = min(found, key=lambda key: found[key][0])
    return next(layer for layer in _layers_of(model) if layer.name == name)


def layer_running_op(model, op: str):
    """The layer whose traced inference graph runs TensorFlow op type ``op`` (TFLite's errors
    name the op but lose its scope): found in the op names of the model's traced function and
    the functions it calls. None if it cannot be told."""
    try:
        graph = inference_function(model).graph.as_graph_def()
    except Exception:
        return None
    names = [node.name for node in graph.node if node.op == op]
    names += [node.name for function in graph.library.function for node in function.node_def
              if node.op == op]
    return failing_layer(" ".join(f"/{name}" for name in names), model) if names else None


def _missing_op(text: str) -> str | None:
    match = re.search(r"'tf\.(\w+)' op is neither a custom op nor a flex op", text)
    return match.group(1) if match else None


def conversion_failure(exc: Exception, model, converter: str) -> "ConversionError":
    """A one-line :class:`ConversionError` naming the Keras layer, its type and the converter's
    reason, when the error text points at a layer; else the converter's most telling line."""
    text = str(exc)
    op = _missing_op(text)
    reason = (f"TensorFlow's {op} op has no TFLite built-in kernel" if op and converter ==
              "TFLiteConverter" else first_error_line(exc))
    layer = failing_layer(text, model) or (layer_running_op(model, op) if op else None)
    if layer is None:
        return ConversionError(f"{converter} failed: {reason}")
    return ConversionError(f"layer '{layer.name}' ({type(layer).__name__}) cannot be converted "
                           f"by {converter}: {reason}")


def first_error_line(exc: Exception) -> str:
    """The most telling line of a converter's (often multi-page) error."""
    lines = [re.sub(r"^\S+:\d+:\d+: ", "", line.strip()) for line in str(exc).splitlines()
             if line.strip()]
    for line in lines:
        if "error:" in line.lower() or "not supported" in line.lower():
            return line
    return lines[0] if lines else type(exc).__name__
