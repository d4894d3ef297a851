"""A Keras model's outputs as one flat, named list, read from the model's own output structure.

Every part of deploytool that names or collects outputs (the exporters, the Keras reference, the
passes, ``--drop-output`` and ``--output-kind``) goes through here, so an output has one name
everywhere. The flat order is the order Keras itself flattens the declared outputs in
(``model.outputs``: a list in its order, a dict by sorted key), for tf_keras and Keras 3 alike.

Names, each unique and stable:

- a dict output's key (the user's own name for it), joined with the keys above it where dicts
  nest;
- else the layer that computes the output; where that layer is a model with several outputs (a
  model called inside another), the name that model gives the output, found the same way at any
  depth; a nested model with one output keeps its own name;
- a name taken by an earlier output gets the first free ``_1``, ``_2``, ... suffix (a shared
  sub-model called twice), as tf_keras numbers repeated output names.

Keras 3's own ``output_names`` repeats the nested model's name for each of its outputs, and
tf_keras numbers them (``face_net``, ``face_net_1``): neither says which head is which.
"""

from __future__ import annotations


def _is_keras3(model) -> bool:
    from deploytool.core.keras_env import is_keras3_model

    return is_keras3_model(model)


def _flatten_with_path(model, structure) -> list[tuple[tuple, object]]:
    """(path, leaf) of ``structure`` in the order ``model``'s Keras flattens it."""
    if _is_keras3(model):
        from deploytool.core.keras_env import keras3

        return list(keras3().tree.flatten_with_path(structure))
    from tensorflow.python.util import nest

    return list(nest.flatten_with_tuple_paths(structure))


def _declared(model) -> list[tuple[tuple, object]]:
    """(path, tensor) of every output as the model declares them (a bare list where the model
    keeps no structure: a signature read through a layer)."""
    structure = getattr(model, "_outputs_struct" if _is_keras3(model) else "_nested_outputs", None)
    if structure is None:
        return [((index,), tensor) for index, tensor in enumerate(model.outputs)]
    declared = _flatten_with_path(model, structure)
    if len(declared) != len(model.outputs):  # pragma: no cover - Keras flattens them this way
        return [((index,), tensor) for index, tensor in enumerate(model.outputs)]
    return declared


def _history(tensor):
    """(layer, tensor index) that produced a symbolic output tensor."""
    history = tensor._keras_history
    layer = getattr(history, "operation", None) or getattr(history, "layer", None) or history[0]
    return layer, history[2]


def _is_model(layer) -> bool:
    return bool(getattr(layer, "_is_graph_network", False) or type(layer).__name__ in
                ("Functional", "Sequential")) and hasattr(layer, "outputs")


def _producer_name(tensor) -> str:
    layer, index = _history(tensor)
    if _is_model(layer) and len(layer.outputs) > 1:
        return output_names(layer)[index]
    return layer.name


def unique_names(proposed: list[str]) -> list[str]:
    """``proposed`` with every repeated name after the first given the first free ``_1``,
    ``_2``, ... suffix (free among every proposed name, so no suffix takes another's name)."""
    taken, unique = set(), []
    for name in proposed:
        candidate, count = name, 0
        while candidate in taken or (candidate != name and candidate in proposed):
            count += 1
            candidate = f"{name}_{count}"
        taken.add(candidate)
        unique.append(candidate)
    return unique


def output_names(model) -> list[str]:
    """The unique name of each of ``model``'s outputs, in ``model.outputs`` order (see the module
    docstring for how each is chosen)."""
    proposed = []
    for path, tensor in _declared(model):
        keys = [str(key) for key in path if isinstance(key, str)]
        proposed.append("_".join(keys) if keys else _producer_name(tensor))
    return unique_names(proposed)


def flat_outputs(model, result) -> list:
    """What calling ``model`` returned (one tensor, or a list, tuple or dict of them, nested as
    the model declares them) as a flat list in ``model.outputs`` order."""
    if isinstance(result, (list, tuple, dict)):
        return [leaf for _, leaf in _flatten_with_path(model, result)]
    return [result]


def named_outputs(model, result) -> dict:
    """What calling ``model`` returned as {output name: tensor}, in ``model.outputs`` order."""
    flat = flat_outputs(model, result)
    names = output_names(model)
    if len(flat) != len(names):
        raise ValueError(f"the model returned {len(flat)} outputs where it declares "
                         f"{len(names)}")
    return dict(zip(names, flat))


def producing_layer(model, index: int):
    """The layer that computes output ``index`` of ``model``, followed into every model called
    inside it down to the layer (not a model) that computes the tensor."""
    layer, tensor_index = _history(model.outputs[index])
    while _is_model(layer):
        layer, tensor_index = _history(layer.outputs[tensor_index])
    return layer
