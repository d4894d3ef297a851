"""Checks on model files from anywhere, made before any native library opens them."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path, PurePosixPath

from deploytool.core.errors import UserError

MAX_ARCHIVE_BYTES = 8 << 30  # uncompressed; no model file of the zoo comes near
MAX_COMPRESSION_RATIO = 200  # a zip bomb expands by thousands


def check_archive(path, archive: zipfile.ZipFile) -> None:
    """Refuse a zip (.keras) that could write outside a folder it is extracted to, or expand
    without bound: absolute or '..' member names, symbolic links, an uncompressed size beyond
    MAX_ARCHIVE_BYTES or a compression ratio beyond MAX_COMPRESSION_RATIO."""
    total = 0
    for member in archive.infolist():
        name = member.filename.replace("\\", "/")
        parts = PurePosixPath(name).parts
        if name.startswith("/") or (len(name) > 1 and name[1] == ":") or ".." in parts:
            raise UserError(f"{path}: archive member '{member.filename}' points outside the "
                            "archive's folder; refused")
        if stat.S_ISLNK(member.external_attr >> 16):
            raise UserError(f"{path}: archive member '{member.filename}' is a symbolic link; refused")
        if member.compress_size and member.file_size / member.compress_size > MAX_COMPRESSION_RATIO \
                and member.file_size > (1 << 20):
            raise UserError(f"{path}: archive member '{member.filename}' expands "
                            f"{member.file_size // member.compress_size}x (a zip bomb?); refused")
        total += member.file_size
    if total > MAX_ARCHIVE_BYTES:
        raise UserError(f"{path}: archive expands to {total / 2**30:.1f} GiB; refused")


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
