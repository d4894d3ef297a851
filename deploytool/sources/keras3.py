"""Models saved by stock Keras 3: screened, loaded by Keras 3 itself, and rebuilt as ``tf_keras``
where that is exact.

deploytool's own passes (BatchNorm folding, head stripping, QAT) work on ``tf_keras`` graphs. A
Keras 3 model made only of layers that mean the same in Keras 2 is rebuilt layer by layer; anything
else (Keras 3-only layers and activations, operations used as layers such as ``x + 3``, nested
models, Keras' own registered classes such as ConvNeXt's LayerScale) cannot be, and such a model is
converted through the Keras that saved it instead (see :mod:`deploytool.converters.targets`). Whether a
rebuild is exact is decided by numbers, not by names: :mod:`deploytool.sources.model_source` compares the
rebuilt model with the original within float32 round-off.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

from deploytool.core.errors import UserError
from deploytool.core.keras_env import keras3

# Keras 3 classes whose config carries or loads code (functions, pickles, other programs' files).
CODE_BEARING = {"Lambda", "TorchModuleWrapper", "TFSMLayer", "JaxLayer", "FlaxLayer"}
CONTAINERS = {"Functional", "Sequential", "Model"}
# Activations that compute the same function in Keras 3 and tf_keras (checked numerically on
# this machine), and Keras 3 names whose tf_keras twin has another name. Keras 3's hard_sigmoid
# is relu6(x + 3) / 6, tf_keras' is clip(0.2 x + 0.5): same name, another function, not listed.
SAME_ACTIVATIONS = {"linear", "relu", "elu", "selu", "gelu", "sigmoid", "tanh", "softmax",
                    "softplus", "softsign", "swish", "mish", "exponential"}
RENAMED_ACTIVATIONS = {"silu": "swish"}
# Keras 3 keyword arguments whose tf_keras name differs, per layer class.
RENAMED_ARGUMENTS = {"LeakyReLU": {"negative_slope": "alpha"}}


class RebuildError(Exception):
    """The Keras 3 model has no exact tf_keras twin; the message says which layer and why."""


# --- screening ---------------------------------------------------------------------------------
def _keras_class(module: str, class_name: str):
    """The class a Keras 3 config entry names, if Keras itself ships it; else None."""
    keras = keras3()
    if module in ("keras.layers", "keras"):
        return getattr(keras.layers, class_name, None) or getattr(keras, class_name, None)
    if not module.startswith("keras.src."):
        return None
    try:  # an installed Keras module: importing it runs Keras' own code, nothing from the file
        candidate = getattr(importlib.import_module(module), class_name, None)
    except ImportError:
        return None
    return candidate if inspect.isclass(candidate) and issubclass(candidate, keras.Operation) else None


def keras3_unsafe_layers(config: dict) -> list[str]:
    """Descriptions of the layers of a Keras 3 model config (nested models included) that would
    run code from the file: Lambda and other code-bearing layers, and classes Keras does not
    ship. Classes Keras registers from its own package (keras.applications' LayerScale, the
    operations of keras.src.ops) are safe."""
    found = []
    for layer in (config.get("config") or {}).get("layers", []) if isinstance(config, dict) else []:
        class_name = layer.get("class_name", "")
        name = layer.get("name") or (layer.get("config") or {}).get("name", "?")
        module = layer.get("module") or "keras.layers"
        if class_name in CODE_BEARING:
            found.append(f"{class_name} layer '{name}'")
        elif class_name in CONTAINERS:
            found.extend(keras3_unsafe_layers(layer))
        elif _keras_class(module, class_name) is None or \
                layer.get("registered_name") not in (None, class_name):
            found.append(f"custom layer '{name}' ({class_name})")
    return found


def load_keras3_model(path, unsafe: bool = False, custom_objects: dict | None = None):
    """A .keras file saved by Keras 3, loaded by Keras 3 (safe mode unless ``unsafe``, with the
    user's ``custom_objects``), in its functional form: a Sequential model is wrapped, a
    subclassed one is exported and read through its serving signature
    (:func:`subclassed_as_signature`)."""
    keras = keras3()
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=not unsafe,
                                        custom_objects=custom_objects)
    except Exception as exc:
        lines = [line for line in str(exc).strip().splitlines() if line.strip()] or [type(exc).__name__]
        missing = re.search(r"Could not locate (?:class|function) '([^']+)'", lines[0])
        if missing:
            raise UserError(f"{path}: the model uses '{missing.group(1)}', which is not part of "
                            "Keras; give the Python file that defines it with --custom-objects "
                            "FILE.py --unsafe (that runs its code), or save the model as a "
                            "functional one") from None
        raise UserError(f"{path}: Keras 3 could not load it ({lines[0][:300]})") from None
    if not isinstance(model, keras.Model):
        raise UserError(f"{path}: not a Keras model")
    if not getattr(model, "_is_graph_network", False) and type(model).__name__ != "Sequential" \
            and not hasattr(model, "inputs"):
        return subclassed_as_signature(model, path)
    if not model.inputs:
        raise UserError(f"{path}: not a Keras model with defined inputs")
    if type(model).__name__ == "Sequential":
        model = keras.Model(model.inputs, model.outputs, name=model.name)
    return model


_EXPORTS = []  # folders of this process's subclassed-model exports, removed when it ends


def subclassed_as_signature(model, path):
    """A subclassed Keras 3 model (its ``call`` is Python: no graph of layers to convert) exported
    at the input size it was built with into a folder kept for this process, and read back
    through that serving signature (:func:`deploytool.sources.signatures.load_signature_model`);
    the folder is what verify compares with (convert copies it beside the artifact)."""
    import atexit
    import shutil
    import tempfile

    from deploytool.core.keras_env import tf
    from deploytool.sources.signatures import load_signature_model

    shape = (model.get_build_config() or {}).get("input_shape")
    if not shape or len(shape) != 4:
        raise UserError(f"{path}: a subclassed model built for input {shape}; deploytool needs one "
                        "that was built on images (batch, height, width, channels)")
    if not _EXPORTS:
        _EXPORTS.append(tempfile.mkdtemp(prefix="deploytool-subclassed-"))
        atexit.register(shutil.rmtree, _EXPORTS[0], True)
    folder = Path(tempfile.mkdtemp(prefix=Path(path).stem, dir=_EXPORTS[0])) / "saved_model"
    try:
        model.export(str(folder), "tf_saved_model", verbose=False,
                     input_signature=[tf.TensorSpec((None, *shape[1:]), tf.float32, name="images")])
    except Exception as exc:
        raise UserError(f"{path}: the subclassed model could not be exported to run without its "
                        f"Python code ({type(exc).__name__}: "
                        f"{(str(exc).strip().splitlines() or [''])[0][:160]})") from None
    wrapped = load_signature_model(folder)
    wrapped.exported_from = folder
    return wrapped


# --- Keras 3 -> tf_keras -----------------------------------------------------------------------
def _layer_kwargs(cls) -> set[str]:
    names = set()
    for klass in cls.__mro__:
        if "__init__" in vars(klass):
            names |= set(inspect.signature(klass.__init__).parameters)
    return names | {"name", "trainable", "dtype"}


def _translate_activation(value, where: str):
    if value is None or (isinstance(value, str) and value in SAME_ACTIVATIONS):
        return value
    if isinstance(value, str) and value in RENAMED_ACTIVATIONS:
        return RENAMED_ACTIVATIONS[value]
    raise RebuildError(f"{where}: activation {value!r} has no identical tf_keras twin")


def _translate_layer_config(layer: dict) -> dict:
    from deploytool.core.keras_env import keras

    class_name, config = layer["class_name"], dict(layer["config"])
    where = f"layer '{layer.get('name', config.get('name'))}' ({class_name})"
    if layer.get("module", "keras.layers") not in ("keras.layers", "keras") or class_name in CONTAINERS:
        raise RebuildError(f"{where} is not a keras.layers layer tf_keras also has")
    cls = getattr(keras.layers, class_name, None)
    if cls is None:
        raise RebuildError(f"{where} does not exist in tf_keras")
    if isinstance(config.get("dtype"), dict):
        config["dtype"] = config["dtype"].get("config", {}).get("name", "float32")
    if class_name == "InputLayer":
        shape = config.get("batch_shape") or config.get("batch_input_shape")
        return {"batch_input_shape": shape, "dtype": config.get("dtype", "float32"),
                "name": config["name"], "sparse": bool(config.get("sparse")),
                "ragged": bool(config.get("ragged"))}
    for old, new in RENAMED_ARGUMENTS.get(class_name, {}).items():
        if old in config:
            config[new] = config.pop(old)
    if "activation" in config:
        config["activation"] = _translate_activation(config["activation"], where)
    allowed = _layer_kwargs(cls)
    # weights are copied afterwards, so initializers, regularizers and constraints are not needed
    return {key: value for key, value in config.items() if key in allowed and
            not key.endswith(("_initializer", "_regularizer", "_constraint"))}


def _tensor_refs(value) -> list:
    if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
        return [list(value["config"]["keras_history"])]
    if isinstance(value, (list, tuple)):
        return [ref for item in value for ref in _tensor_refs(item)]
    return []


def _constants(value) -> list:
    """Non-tensor positional arguments of a call node (``x + 3`` records the 3)."""
    if isinstance(value, (list, tuple)):
        return [c for item in value for c in _constants(item)]
    return [] if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__" else [value]


def _refs(value) -> list | dict:
    """Output or input references as tf_keras reads them: a list of [layer, node, tensor], or a
    dict of them by key (a model whose outputs are a dict keeps their keys)."""
    if isinstance(value, dict):
        return {key: list(ref) for key, ref in value.items()}
    return [value] if value and isinstance(value[0], str) else list(value)


def keras3_config_to_tf_keras(config: dict) -> dict:
    """Translate a Keras 3 functional config (the ``config`` of config.json) to the tf_keras form:
    dtype policies become names, ``batch_shape`` becomes ``batch_input_shape``, renamed arguments
    and activations get their tf_keras names, keyword arguments Keras 2 does not know are
    dropped, and inbound nodes become [[layer, node, tensor, kwargs]] lists (None-valued call
    arguments such as ``mask=None`` are left out). Raises :class:`RebuildError` for anything
    without a tf_keras twin."""
    layers = []
    for layer in config["layers"]:
        translated = _translate_layer_config(layer)
        nodes = []
        for node in layer.get("inbound_nodes", []):
            args = node.get("args", [])
            if _constants(args):
                raise RebuildError(f"layer '{layer['name']}' is called with constant arguments")
            kwargs = {k: v for k, v in node.get("kwargs", {}).items()
                      if v is not None and not _tensor_refs(v)}
            nodes.append([[*ref, kwargs] for ref in _tensor_refs(args)])
        layers.append({"class_name": layer["class_name"], "name": layer["name"],
                       "config": translated, "inbound_nodes": nodes})
    return {"name": config["name"], "layers": layers,
            "input_layers": _refs(config["input_layers"]),
            "output_layers": _refs(config["output_layers"])}


def rebuild_as_tf_keras(model):
    """The tf_keras twin of a functional Keras 3 ``model``, with its weights; raises
    :class:`RebuildError` naming the first layer that has no twin. The caller checks the
    twin's outputs against the original's."""
    from deploytool.core.keras_env import keras

    translated = keras3_config_to_tf_keras(model.get_config())
    try:
        rebuilt = keras.Model.from_config(translated)
        for layer in rebuilt.layers:
            if layer.weights:
                layer.set_weights(model.get_layer(layer.name).get_weights())
    except Exception as exc:
        lines = [line for line in str(exc).strip().splitlines() if line.strip()] or [""]
        raise RebuildError(f"tf_keras could not build it ({type(exc).__name__}: "
                           f"{lines[0][:160]})") from None
    return rebuilt
