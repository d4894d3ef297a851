"""Strip what exists only for training: auxiliary classifier outputs and dropout-style layers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from deploytool.keras_env import keras
from models.profile import training_only_outputs

from .graph import GraphRewriter

# Layers that are the identity at inference time.
INFERENCE_IDENTITY = (keras.layers.Dropout, keras.layers.GaussianNoise,
                      keras.layers.GaussianDropout, keras.layers.AlphaDropout,
                      keras.layers.ActivityRegularization)


@dataclass
class StripReport:
    """What :func:`strip_training_heads` removed."""

    removed_outputs: list[str] = field(default_factory=list)
    removed_layers: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """Plain-JSON form."""
        return asdict(self)

    def summary(self) -> str:
        """One line for the terminal."""
        outputs = ", ".join(self.removed_outputs) or "none"
        return (f"stripped training-only outputs: {outputs}; removed "
                f"{len(self.removed_layers)} inference-identity layers (dropout)")


def strip_training_heads(model, custom_objects=None):
    """Return ``(model, StripReport)``: the model with its training-only outputs (auxiliary heads,
    and every layer only they used) and its dropout-style layers removed. A model with nothing to
    strip comes back unchanged. A stock Keras 3 model keeps its first output only."""
    from deploytool.keras3 import is_keras3_model, keras3

    if is_keras3_model(model):  # dropout-style layers are identities in the traced inference graph
        if len(model.outputs) == 1:
            return model, StripReport()
        names = [tensor._keras_history.operation.name for tensor in model.outputs]
        return (keras3().Model(model.inputs, model.outputs[0], name=model.name),
                StripReport(removed_outputs=names[1:]))
    report = StripReport(removed_outputs=list(training_only_outputs(model)))
    report.removed_layers = [layer.name for layer in model.layers
                             if isinstance(layer, INFERENCE_IDENTITY)]
    if not report.removed_outputs and not report.removed_layers:
        return model, report
    graph = GraphRewriter(model, custom_objects)
    if report.removed_outputs:
        graph.keep_outputs([name for name in model.output_names
                            if name not in report.removed_outputs])
    kept = {entry["name"] for entry in graph.entries}
    report.removed_layers = [name for name in report.removed_layers if name in kept]
    for name in report.removed_layers:
        graph.bypass(name)
    return graph.build(), report
