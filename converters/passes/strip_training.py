"""Strip what exists only for training: auxiliary classifier outputs, dropout-style layers and
data augmentation; and the outputs the user names (``--drop-output``). Every other output is kept,
by name: an output is never dropped without a word."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from deploytool.converters.passes.graph import GraphRewriter
from deploytool.models.profile import training_only_outputs

from deploytool.core.errors import UserError
from deploytool.core.keras_env import keras
from deploytool.core.model_outputs import output_names

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


def _strip_keras3(model, drop: list[str]):
    """:func:`strip_training_heads` for a stock Keras 3 model: the outputs not in ``drop``, and
    the same layers with every inference-identity layer (nested ones too) replaced by Identity."""
    from deploytool.core.keras_env import keras3

    k3 = keras3()
    report = StripReport(dropped_outputs=list(drop))
    if drop:
        kept = [tensor for name, tensor in zip(output_names(model), model.outputs)
                if name not in drop]
        model = k3.Model(model.inputs, kept[0] if len(kept) == 1 else kept, name=model.name)

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

    removed_outputs: list[str] = field(default_factory=list)  # declared training-only heads
    removed_layers: list[str] = field(default_factory=list)
    dropped_outputs: list[str] = field(default_factory=list)  # named by the user

    @property
    def outputs_removed(self) -> bool:
        """Whether the stripped model has fewer outputs than the original."""
        return bool(self.removed_outputs or self.dropped_outputs)

    def as_dict(self) -> dict:
        """Plain-JSON form."""
        return asdict(self)

    def summary(self) -> str:
        """One line for the terminal."""
        outputs = ", ".join(self.removed_outputs) or "none"
        dropped = (f"; dropped the outputs you named: {', '.join(self.dropped_outputs)}"
                   if self.dropped_outputs else "")
        return (f"stripped training-only outputs: {outputs}{dropped}; removed "
                f"{len(self.removed_layers)} inference-identity layers (dropout, noise, augmentation)")


def strip_training_heads(model, drop=(), custom_objects=None):
    """Return ``(model, StripReport)``: the model with its training-only outputs (auxiliary heads,
    and every layer only they used), the outputs named in ``drop`` and its dropout-style layers
    removed; every other output is kept. A model with nothing to strip comes back unchanged. An
    unknown name in ``drop``, or dropping every output, is a one-line error."""
    from deploytool.core.keras_env import is_keras3_model

    drop, names = list(drop), output_names(model)
    unknown = [name for name in drop if name not in names]
    if unknown:
        raise UserError(f"--drop-output {unknown[0]}: the model has no such output; its outputs "
                        f"are {', '.join(names)}")
    if set(names) <= set(drop):
        raise UserError(f"--drop-output names every output of the model ({', '.join(names)}); "
                        "keep at least one")
    if is_keras3_model(model):
        return _strip_keras3(model, drop)
    report = StripReport(removed_outputs=[name for name in training_only_outputs(model)
                                          if name not in drop], dropped_outputs=drop)
    report.removed_layers = [layer.name for layer in model.layers if _is_identity(layer)]
    if not report.outputs_removed and not report.removed_layers:
        return model, report
    graph = GraphRewriter(model, custom_objects)
    if report.outputs_removed:
        removed = {*report.removed_outputs, *report.dropped_outputs}
        graph.keep_outputs([index for index, name in enumerate(names) if name not in removed])
    kept = {entry["name"] for entry in graph.entries}
    report.removed_layers = [name for name in report.removed_layers if name in kept]
    for name in report.removed_layers:
        graph.bypass(name)
    return graph.build(), report
