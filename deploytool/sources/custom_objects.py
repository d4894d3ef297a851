"""A user's own layer and model classes, from a Python file the user names
(``--custom-objects FILE.py``): running it runs the user's code, so it needs ``--unsafe``."""

from __future__ import annotations

import importlib.util
import inspect
import sys
from pathlib import Path

from deploytool.core.errors import UserError


def import_custom_objects(path, unsafe: bool) -> dict[str, type]:
    """Run ``path`` as a module and return its Keras layer and model classes by name (classes it
    registers with ``register_keras_serializable`` are registered by running it). Without
    ``unsafe`` it is a one-line error: the file is code."""
    path = Path(path)
    if not unsafe:
        raise UserError(f"--custom-objects {path} runs that file's code: add --unsafe if you "
                        "trust it")
    if not path.is_file() or path.suffix != ".py":
        raise UserError(f"--custom-objects {path}: expected a Python file (.py)")
    name = f"deploytool_custom_objects_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(path.parent))  # the file may import its neighbours
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise UserError(f"--custom-objects {path}: running it failed ({type(exc).__name__}: "
                        f"{(str(exc).strip().splitlines() or [''])[0][:160]})") from None
    finally:
        sys.path.remove(str(path.parent))
    return {key: value for key, value in vars(module).items()
            if inspect.isclass(value) and value.__module__ == name and _is_keras_class(value)}


def _is_keras_class(cls) -> bool:
    """A Keras (3 or tf_keras) layer, model or other serializable class."""
    bases = {f"{base.__module__}.{base.__name__}" for base in inspect.getmro(cls)}
    return any(base.startswith(("keras.", "tf_keras.")) for base in bases)
