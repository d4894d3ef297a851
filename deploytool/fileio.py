"""Files written whole or not at all: write to a temporary name beside the target, then rename."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path


def sha256_file(path) -> str:
    """Hex sha256 of a file's bytes (of every file, in sorted order, for a directory)."""
    path = Path(path)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode())
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def size_of(path) -> int:
    """Bytes of a file, or of every file under a directory."""
    path = Path(path)
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


@contextlib.contextmanager
def atomic_path(target, directory: bool = False):
    """Yield a temporary path beside ``target``; when the block succeeds it replaces ``target``
    in one rename, when it fails (or is interrupted) it is removed and ``target`` is untouched."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    staging = temporary / target.name
    if directory:
        staging.mkdir()
    try:
        yield staging
        if target.is_dir() and not target.is_symlink():
            old = temporary / ".previous"
            os.replace(target, old)
        os.replace(staging, target)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as staging:
        staging.write_bytes(data)
    return Path(path)


def write_json(path, value) -> Path:
    """Write ``value`` as indented JSON to ``path`` atomically."""
    return write_bytes(path, (json.dumps(value, indent=2, sort_keys=False) + "\n").encode())
