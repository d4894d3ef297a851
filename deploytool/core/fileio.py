"""Files written whole or not at all: write to a temporary name beside the target, then rename."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from deploytool.core.errors import UserError
from deploytool.core.interrupts import stop_if_interrupted


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


TEMP_SUFFIX = ".deploytool-tmp"
DISK_ERRORS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.EFBIG,
               errno.ENOTDIR, errno.EEXIST, errno.EIO}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_temporaries(folder) -> list[Path]:
    """Remove the temporary folders that killed deploytool processes left in ``folder`` (named
    ``.NAME.PID.RANDOM.deploytool-tmp``, with PID no longer running); returns what was removed."""
    removed = []
    for candidate in Path(folder).glob(f".*{TEMP_SUFFIX}"):
        try:
            pid = int(candidate.name[: -len(TEMP_SUFFIX)].rsplit(".", 2)[-2])
        except (ValueError, IndexError):
            continue
        if candidate.is_dir() and pid != os.getpid() and not _pid_alive(pid):
            shutil.rmtree(candidate, ignore_errors=True)
            removed.append(candidate)
    return removed


@contextlib.contextmanager
def atomic_path(target, directory: bool = False):
    """Yield a temporary path beside ``target``; when the block succeeds it replaces ``target``
    in one rename, when it fails (or is interrupted) it is removed and ``target`` is untouched.
    A process killed outright (SIGKILL) cannot clean up: its temporary folder carries its PID and
    the next write into the same folder removes it. A failing disk (full, read-only, no
    permission) becomes a one-line error naming ``target``."""
    target = Path(target)
    temporary = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        sweep_stale_temporaries(target.parent)
        temporary = Path(tempfile.mkdtemp(prefix=f".{target.name}.{os.getpid()}.",
                                          suffix=TEMP_SUFFIX, dir=target.parent))
        staging = temporary / target.name
        if directory:
            staging.mkdir()
        yield staging
        stop_if_interrupted()  # after a Ctrl-C a library dropped, the old file stays
        if target.is_dir() and not target.is_symlink():
            os.replace(target, temporary / ".previous")
        os.replace(staging, target)
    except OSError as exc:
        if exc.errno not in DISK_ERRORS:
            raise
        raise UserError(f"{target}: cannot write it ({os.strerror(exc.errno)})") from None
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)


def write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as staging:
        staging.write_bytes(data)
    return Path(path)


def write_json(path, value) -> Path:
    """Write ``value`` as indented JSON to ``path`` atomically."""
    return write_bytes(path, (json.dumps(value, indent=2, sort_keys=False) + "\n").encode())
