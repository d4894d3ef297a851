"""Manifests: one JSON next to every artifact, an index per output folder, and a pointer to what
`deploytool convert` wrote last (what `deploytool verify` checks when given no artifact)."""

from __future__ import annotations

import json
import platform
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from .errors import UserError
from .fileio import sha256_file, write_json

LAST_CONVERT = Path(".deploytool") / "last-convert.json"
INDEX_NAME = "manifest.json"
TOOLS = ("deploytool", "tensorflow", "tf-keras", "keras", "tensorflow-model-optimization", "tf2onnx",
         "onnx", "onnxruntime", "opencv-python-headless", "ai-edge-litert", "numpy")


def tool_versions() -> dict:
    """Versions of Python and of every library that touches an artifact."""
    versions = {"python": platform.python_version()}
    for name in TOOLS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def now() -> str:
    """The current UTC time as an ISO-8601 string (seconds), for "created" fields."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def manifest_path(artifact) -> Path:
    """Where the manifest of ``artifact`` lives: ``<artifact>.json``."""
    artifact = Path(artifact)
    return artifact.with_name(artifact.name + ".json")


def write_manifest(artifact, entry: dict) -> Path:
    """Write ``entry`` next to ``artifact``, add it to its folder's index (replacing an older
    entry for the same file) and record it as the last conversion. Returns the manifest path."""
    artifact = Path(artifact)
    path = write_json(manifest_path(artifact), entry)
    index_path = artifact.parent / INDEX_NAME
    index = read_json(index_path) or {"artifacts": []}
    index["artifacts"] = [e for e in index["artifacts"]
                          if e.get("artifact", {}).get("file") != artifact.name] + [entry]
    write_json(index_path, index)
    write_json(LAST_CONVERT, {"artifacts": [str(artifact.resolve())]})
    return path


def read_json(path) -> dict | None:
    """The JSON in ``path``, or None if there is no such file."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: unreadable JSON ({type(exc).__name__}: {str(exc)[:120]})") from None
    if not isinstance(value, dict):
        raise UserError(f"{path}: expected a JSON object")
    return value


def integrity_failures(artifact, manifest: dict) -> list[str]:
    """[] when the file's sha256 is the one its manifest records, else the failure."""
    if sha256_file(artifact) == (manifest.get("artifact") or {}).get("sha256"):
        return []
    return ["sha256 differs from the manifest: the file changed after conversion"]


def read_manifest(artifact) -> dict | None:
    """The manifest written next to ``artifact``, or None."""
    return read_json(manifest_path(artifact))
