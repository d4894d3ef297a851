"""A cluster that is not there, or a local instance that cannot start, is one line and exit 2,
at once, with nothing written (Ray's own connection waits minutes for a head that is not there)."""

import os
import subprocess
import sys
import time
from pathlib import Path

from deploytool.cluster.local_cluster import _free_port

DEPLOYTOOL = str(Path(sys.executable).parent / "deploytool")


def _matrix(tmp_path, *extra, env=None):
    started = time.perf_counter()
    done = subprocess.run([DEPLOYTOOL, "matrix", "lenet_bn", "--epochs", "1", "--artifacts",
                           tmp_path / "work", "--out", tmp_path / "page.md", *extra],
                          capture_output=True, text=True, timeout=120, env=env)
    return done, time.perf_counter() - started


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("deploytool:")]


def test_an_address_where_no_cluster_answers_is_refused_at_once(tmp_path):
    done, seconds = _matrix(tmp_path, "--ray-address", f"127.0.0.1:{_free_port()}")  # nothing listens
    assert done.returncode == 2
    assert len(_error_lines(done.stderr)) == 1 and "internal error" not in done.stderr
    assert "Traceback" not in done.stderr
    assert seconds < 60
    assert not (tmp_path / "page.md").exists() and not (tmp_path / "work" / "runs").exists()


def test_a_local_instance_that_cannot_start_is_one_line(tmp_path):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    env = {**os.environ, "RAY_TMPDIR": str(not_a_folder / "ray")}  # Ray's temporary folder
    done, _ = _matrix(tmp_path, env=env)
    assert done.returncode == 2
    assert len(_error_lines(done.stderr)) == 1 and "internal error" not in done.stderr
    assert not (tmp_path / "page.md").exists()
