"""Rewrites of a ``tf_keras`` functional model through its config: bypass or replace layers,
change their settings and weights, drop what no output needs, and rebuild the model.

Every pass that changes a model's structure (BatchNorm folding, head stripping) goes through
:class:`GraphRewriter`, so rewiring is written once.
"""

from __future__ import annotations

import copy

from deploytool.core.errors import UserError
from deploytool.core.keras_env import keras


class GraphRewriter:
    """A mutable copy of a functional model's graph; the original model is never changed."""

    def __init__(self, model, custom_objects=None):
        if not isinstance(model, keras.Model) or not hasattr(model, "_is_graph_network") \
                or not model._is_graph_network:
            raise UserError(f"model {getattr(model, 'name', model)!r} is not a functional or "
                            "Sequential Keras model; only those can be rewritten")
        if isinstance(model, keras.Sequential):  # its config names no inbound nodes
            model = keras.Model(model.inputs, model.outputs, name=model.name)
        self.model = model
        self.custom_objects = custom_objects or {}
        self.config = copy.deepcopy(model.get_config())
        self._weights: dict[str, list] = {}

    # --- reading the graph -------------------------------------------------------------------
    @property
    def entries(self) -> list[dict]:
        """The layer entries of the config, in topological order."""
        return self.config["layers"]

    def entry(self, name: str) -> dict:
        """The config entry of layer ``name``."""
        for entry in self.entries:
            if entry["name"] == name:
                return entry
        raise KeyError(name)

    def layer(self, name: str):
        """The original model's layer ``name`` (its current weights live in :meth:`weights`)."""
        return self.model.get_layer(name)

    def weights(self, name: str) -> list:
        """The weights layer ``name`` will have in the rebuilt model."""
        if name not in self._weights:
            self._weights[name] = self.layer(name).get_weights()
        return self._weights[name]

    def inputs_of(self, name: str) -> list[str]:
        """Names of the layers feeding ``name`` (all its call nodes)."""
        return [ref[0] for node in self.entry(name)["inbound_nodes"] for ref in node]

    def consumers_of(self, name: str) -> list[str]:
        """Names of the layers that take an output of ``name`` (one per use)."""
        return [entry["name"] for entry in self.entries
                for node in entry["inbound_nodes"] for ref in node if ref[0] == name]

    def output_refs(self) -> list[list]:
        """Each output's [layer, node, tensor] reference, in ``model.outputs`` order (a dict of
        outputs is flattened by sorted key, as Keras flattens it)."""
        declared = self.config["output_layers"]
        if isinstance(declared, dict):
            return [declared[key] for key in sorted(declared)]
        return list(declared)

    def _set_output_refs(self, refs: list[list], kept: list[int]) -> None:
        """Replace the outputs' references (``refs`` for the outputs at positions ``kept`` of
        :meth:`output_refs`), keeping a dict's keys."""
        declared = self.config["output_layers"]
        if isinstance(declared, dict):
            keys = sorted(declared)
            self.config["output_layers"] = {keys[index]: ref for index, ref in zip(kept, refs)}
        else:
            self.config["output_layers"] = list(refs)

    def is_output(self, name: str) -> bool:
        """Whether ``name`` produces one of the model's outputs."""
        return any(ref[0] == name for ref in self.output_refs())

    def single_call(self, name: str) -> bool:
        """Whether ``name`` is called exactly once (not a shared layer)."""
        return len(self.entry(name)["inbound_nodes"]) == 1

    # --- changing the graph ------------------------------------------------------------------
    def set_weights(self, name: str, weights: list) -> None:
        """Give layer ``name`` these weights in the rebuilt model."""
        self._weights[name] = list(weights)

    def update_layer(self, name: str, class_name: str | None = None, **config_changes) -> None:
        """Change layer ``name``'s class and/or config keys (its weights must be set to match)."""
        entry = self.entry(name)
        if class_name:  # the new class may not take the old one's call arguments (mask=...)
            entry["class_name"] = class_name
            entry.pop("build_config", None)
            for node in entry["inbound_nodes"]:
                for ref in node:
                    if len(ref) > 3:
                        ref[3] = {}
        entry["config"].update(config_changes)

    def bypass(self, name: str) -> None:
        """Remove single-input layer ``name``; its consumers and outputs read its input instead."""
        entry = self.entry(name)
        (source,) = entry["inbound_nodes"][0]
        self._redirect(name, list(source[:3]))
        self.entries.remove(entry)
        self._weights.pop(name, None)

    def _redirect(self, name: str, target: list) -> None:
        """Every consumer and output that reads layer ``name`` reads ``target`` ([layer, node,
        tensor]) instead, keeping each call's keyword arguments."""
        for other in self.entries:
            for node in other["inbound_nodes"]:
                for i, ref in enumerate(node):
                    if ref[0] == name:
                        node[i] = [*target, ref[3] if len(ref) > 3 else {}]
        refs = self.output_refs()
        self._set_output_refs([list(target) if ref[0] == name else ref for ref in refs],
                              list(range(len(refs))))

    def insert_after(self, name: str, class_name: str, config: dict) -> None:
        """Add a single-input layer of ``class_name`` (``config`` names it) that reads ``name``'s
        output; every consumer and output that read ``name`` reads the new layer instead."""
        new = config["name"]
        self._redirect(name, [new, 0, 0])
        position = self.entries.index(self.entry(name)) + 1
        self.entries.insert(position, {"class_name": class_name, "config": config, "name": new,
                                       "inbound_nodes": [[[name, 0, 0, {}]]]})

    def keep_outputs(self, kept: list[int]) -> None:
        """Keep only the outputs at positions ``kept`` (of ``model.outputs``) and drop every layer
        none of them needs."""
        refs = self.output_refs()
        self._set_output_refs([refs[index] for index in kept], kept)
        needed, stack = set(), [ref[0] for ref in self.output_refs()]
        while stack:
            name = stack.pop()
            if name not in needed:
                needed.add(name)
                stack.extend(self.inputs_of(name))
        self.config["layers"] = [e for e in self.entries if e["name"] in needed]

    # --- rebuilding --------------------------------------------------------------------------
    def build(self):
        """A new model from the rewritten config, with every layer's (possibly new) weights."""
        model = keras.Model.from_config(copy.deepcopy(self.config),
                                        custom_objects=self.custom_objects)
        for layer in model.layers:
            if layer.weights:
                layer.set_weights(self.weights(layer.name))
        return model
