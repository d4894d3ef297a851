"""Strip what exists only for training: auxiliary classifier outputs, dropout-style layers and
data augmentation."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from deploytool.converters.passes.graph import GraphRewriter
from deploytool.core.keras_env import keras
from deploytool.models.profile import training_only_outputs

# Layers that are the identity at inference time: dropout and noise, and the data-augmentation
# layers users put inside their models (the Keras image-classification tutorial does), whose
# random ops the converters cannot take even where the inference path skips them.
# (RandomCrop is not among them: at inference it crops.)
AUGMENTATION = ("RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation",
                "RandomContrast", "RandomBrightness", "RandomHeight", "RandomWidth")
INFERENCE_IDENTITY = (keras.layers.Dropout, keras.layers.GaussianNoise,
                      keras.layers.GaussianDropout, keras.layers.AlphaDropout,
                      keras.layers.ActivityRegularization,
                      *(getattr(keras.layers, name) for name in AUGMENTATION))
IDENTITY_NAMES = {"Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
                  "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization",
                  *AUGMENTATION}


def _is_identity(layer) -> bool:
    """An inference-identity layer, or a nested model made only of them (an augmentation block)."""
    if isinstance(layer, INFERENCE_IDENTITY):
        return True
    inner = [child for child in getattr(layer, "layers", None) or []
             if type(child).__name__ != "InputLayer"]
    return isinstance(layer, keras.Model) and bool(inner) and all(map(_is_identity, inner))


def _strip_keras3(model):
    """:func:`strip_training_heads` for a stock Keras 3 model: the same layers with every
    inference-identity layer (nested ones too) replaced by Identity, first output only."""
    from deploytool.core.keras_env import keras3

    k3 = keras3()
    report = StripReport()
    if len(model.outputs) > 1:
        report.removed_outputs = [t._keras_history.operation.name for t in model.outputs[1:]]
        model = k3.Model(model.inputs, model.outputs[0], name=model.name)

    def clone(layer):
        if type(layer).__name__ in IDENTITY_NAMES:
            report.removed_layers.append(layer.name)
            return k3.layers.Identity(name=layer.name)
        return layer

    if any(type(layer).__name__ in IDENTITY_NAMES for layer in model._flatten_layers()):
        model = k3.models.clone_model(model, clone_function=clone, recursive=True)
    return model, report


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
                f"{len(self.removed_layers)} inference-identity layers (dropout, noise, augmentation)")


def strip_training_heads(model, custom_objects=None):
    """Return ``(model, StripReport)``: the model with its training-only outputs (auxiliary heads,
    and every layer only they used) and its dropout-style layers removed. A model with nothing to
    strip comes back unchanged. A stock Keras 3 model keeps its first output only."""
    from deploytool.core.keras_env import is_keras3_model

    if is_keras3_model(model):
        return _strip_keras3(model)
    report = StripReport(removed_outputs=list(training_only_outputs(model)))
    report.removed_layers = [layer.name for layer in model.layers if _is_identity(layer)]
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
