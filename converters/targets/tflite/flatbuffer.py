"""A .tflite file's flatbuffer, read once in pure Python with LiteRT's schema (no TensorFlow
import): the identifier check and the name of each operator code, shared by `inspect` and the
phone-GPU readiness check."""

from __future__ import annotations

from pathlib import Path

from deploytool.core.errors import UserError

CUSTOM = 32  # BuiltinOperator.CUSTOM


def read_tflite(path):
    """``(schema, model)`` of the .tflite file at ``path``: LiteRT's generated schema module and
    the flatbuffer's root Model table (a one-line error when the file is no TFLite model)."""
    from ai_edge_litert import schema_py_generated as schema

    path = Path(path)
    data = path.read_bytes()
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise UserError(f"{path}: not a TFLite file (no TFL3 identifier)")
    return schema, schema.Model.GetRootAs(data, 0)


def builtin_code(code) -> int:
    """An OperatorCode's builtin number: the larger of the current and the deprecated 8-bit field,
    as LiteRT reads it (``CUSTOM`` for a custom op)."""
    return max(code.BuiltinCode(), code.DeprecatedBuiltinCode())


def operator_names(schema, model) -> list[str]:
    """The name of every operator code of ``model``, in code order: the builtin's name or a custom
    op's own."""
    builtins = {value: name for name, value in vars(schema.BuiltinOperator).items()
                if not name.startswith("_")}
    names = []
    for index in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(index)
        builtin = builtin_code(code)
        names.append((code.CustomCode() or b"CUSTOM").decode() if builtin == CUSTOM
                     else builtins.get(builtin, f"BUILTIN_{builtin}"))
    return names
