"""Checks on model files from anywhere, made before any native library opens them."""

from __future__ import annotations

from pathlib import Path

from .errors import UserError


def check_onnx_external_data(path) -> None:
    """Refuse an ONNX file whose tensors point at external data outside the file's own folder
    (an absolute path or '..' would let a downloaded model read any file on the machine)."""
    import onnx
    from onnx.external_data_helper import uses_external_data

    path = Path(path)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise UserError(f"{path}: not a valid ONNX model ({type(exc).__name__})") from None
    folder = path.resolve().parent
    for tensor in list(model.graph.initializer):
        if not uses_external_data(tensor):
            continue
        location = {entry.key: entry.value for entry in tensor.external_data}.get("location", "")
        target = (folder / location).resolve()
        if Path(location).is_absolute() or not target.is_relative_to(folder):
            raise UserError(f"{path}: tensor '{tensor.name}' points at external data "
                            f"'{location}' outside the model's folder; refused")
