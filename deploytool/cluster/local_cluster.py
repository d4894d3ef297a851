"""A Ray cluster of several nodes on this machine, each started by `ray start` as its own set of
processes on 127.0.0.1: what the tests and benchmarks use to show that a page computed on a
cluster equals the serial one, and that a lost worker is retried.

    with LocalCluster(nodes=2, cpus_per_node=1) as address:
        run_cells(cells, folder, address=address)

The nodes share a temporary folder of their own and the user's Ray authentication token,
~/.ray/auth_token (written here if missing, as a local ``ray.init()`` writes it): Ray 2.60 turns
token authentication on for a head that finds that file, and then every node and driver must
hold the same token (a driver process loads it once, so a token of the cluster's own would not
reach a process that had started a local instance before). Stopping ends only this cluster's
processes (their command lines name its folder), not `ray stop`, which would end every Ray
instance on the machine.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

START_TIMEOUT = 120


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _command_lines() -> dict[int, bytes]:
    """Each other process's command line, by process ID."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                found[int(entry.name)] = (entry / "cmdline").read_bytes()
            except OSError:
                continue
    return found


def _processes_naming(text: str) -> list[int]:
    return [pid for pid, line in _command_lines().items() if text.encode() in line]


class LocalCluster:
    """``nodes`` Ray nodes of ``cpus_per_node`` CPUs on 127.0.0.1; the context gives the head's
    address and sets this process's authentication for it."""

    def __init__(self, nodes: int = 2, cpus_per_node: int = 1):
        self.nodes, self.cpus = nodes, cpus_per_node
        self.ray = str(Path(sys.executable).with_name("ray"))

    def _start(self, *args) -> None:
        done = subprocess.run([self.ray, "start", *args], env=self.env, capture_output=True,
                              text=True, timeout=START_TIMEOUT)
        if done.returncode:
            raise RuntimeError(f"ray start {' '.join(args[:2])} failed: "
                               f"{(done.stderr or done.stdout).strip().splitlines()[-1]}")

    def __enter__(self) -> str:
        self.temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # socket paths must stay short
        token = Path.home() / ".ray" / "auth_token"
        if not token.exists():
            token.parent.mkdir(parents=True, exist_ok=True)
            token.write_text(secrets.token_hex(32))
        self.auth = {"RAY_AUTH_MODE": "token"}
        self.env = {**os.environ, "RAY_ADDRESS": "", **self.auth}
        self.saved = {name: os.environ.get(name) for name in self.auth}
        os.environ.update(self.auth)
        address = f"127.0.0.1:{_free_port()}"
        try:
            self._start("--head", "--node-ip-address", "127.0.0.1", "--port", address.split(":")[1],
                        "--num-cpus", str(self.cpus), "--include-dashboard", "false",
                        "--temp-dir", self.temp, "--disable-usage-stats")
            for _ in range(self.nodes - 1):
                self._start("--address", address, "--node-ip-address", "127.0.0.1",
                            "--num-cpus", str(self.cpus))
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return address

    def processes(self) -> list[int]:
        """Process IDs of this cluster's nodes (not of their workers)."""
        return _processes_naming(self.temp)

    def __exit__(self, *exc) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in self.processes():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            time.sleep(2.0)
        shutil.rmtree(self.temp, ignore_errors=True)
        for name, value in self.saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def cell_workers() -> list[int]:
    """Process IDs of Ray workers of this machine running a cell's step now."""
    return [pid for pid, line in _command_lines().items() if line.startswith(b"ray::cell_step")]
