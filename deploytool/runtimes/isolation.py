"""Run a native runtime in a child process with a time limit, so that a crash or hang in one
backend is reported as that backend's failure and everything else goes on."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deploytool.core.child import call_in_child
from deploytool.core.environments import EnvironmentMissing, require
from deploytool.runtimes.base import DEFAULT_THREADS, runners

DEFAULT_TIMEOUT = 300


@dataclass
class IsolatedRun:
    """What a child run produced: outputs and metadata, or the reason it did not."""

    outputs: dict[str, np.ndarray] | None = None  # by output name, in the artifact's order
    meta: dict = field(default_factory=dict)
    error: str | None = None  # why there are no outputs
    kind: str = "ok"  # ok | error | crash | timeout | refused (a client declined the file)

    @property
    def ok(self) -> bool:
        """Whether outputs came back."""
        return self.kind == "ok"


def run_isolated(artifact, backend: str, images: np.ndarray, threads: int = DEFAULT_THREADS,
                 timeout: float = DEFAULT_TIMEOUT, bench: dict | None = None,
                 **options) -> IsolatedRun:
    """Infer ``images`` with ``backend`` on ``artifact`` in a fresh child process
    (:func:`deploytool.runtimes.worker.infer`, through :func:`deploytool.core.child.call_in_child`).
    With ``bench`` ({"runs": N, "warmup": W}, optionally "batch": B) the child also times N calls
    after W warm-up calls, on the first B images when B is given."""
    runner = runners()[backend]
    try:  # a runtime with an interpreter of its own runs there
        python = require(runner.environment) if runner.environment else None
    except EnvironmentMissing as missing:
        return IsolatedRun(error=str(missing), kind="error")
    with tempfile.TemporaryDirectory(prefix="deploytool-run-") as tmp:
        tmp = Path(tmp)
        np.save(tmp / "images.npy", np.asarray(images, np.uint8 if runner.takes_pixels else np.float32))
        request = {"artifact": str(Path(artifact).resolve()), "backend": backend,
                   "threads": threads, "options": options, "images": str(tmp / "images.npy"),
                   "outputs": str(tmp / "outputs.npz"),
                   **({"mode": "bench", **bench} if bench else {})}
        answer = call_in_child("deploytool.runtimes.worker:infer", request, timeout=timeout,
                               python=python)
        if answer.kind == "crash":
            return IsolatedRun(error=f"the runtime {answer.error}", kind="crash")
        if answer.kind == "error" and answer.error_type == "ClientRefusal":
            return IsolatedRun(error=answer.error, kind="refused")
        if answer.kind == "error":
            layer = runner.layer_in_log(answer.stderr)
            return IsolatedRun(error=f"{answer.error}; {layer}" if layer else answer.error,
                               kind="error")
        if not answer.ok:
            return IsolatedRun(error=answer.error, kind=answer.kind)
        meta = answer.value
        with np.load(tmp / "outputs.npz") as saved:
            outputs = {output["name"]: saved[output["name"]] for output in meta["outputs"]}
        return IsolatedRun(outputs, meta)


@dataclass
class Attempt:
    """One variant of a runtime (its constructor options) run on an artifact, and its verdict."""

    options: dict
    run: IsolatedRun
    failures: list[str]
    seconds: float

    @property
    def agrees(self) -> bool:
        """It ran and nothing is wrong with what it produced."""
        return self.run.ok and not self.failures


def run_variants(artifact, backend: str, images: np.ndarray, judge=lambda run: [],
                 **kwargs) -> list[Attempt]:
    """Run ``backend``'s variants (e.g. OpenCV's NEW then CLASSIC engine) on ``artifact`` in
    turn, each in its own child process, until one agrees: it runs and ``judge(run)`` finds no
    failure. Returns every attempt made, the agreeing one last if any."""
    import time

    attempts = []
    for options in runners()[backend].variants:
        started = time.perf_counter()
        run = run_isolated(artifact, backend, images, **kwargs, **options)
        failures = judge(run) if run.ok else [f"{run.kind}: {run.error}"]
        attempts.append(Attempt(options, run, failures, time.perf_counter() - started))
        if attempts[-1].agrees:
            break
    return attempts


class VariantInChild:
    """One variant of a runtime run in child processes, for a process that cannot load it
    itself (TensorFlow with oneDNN, once TensorFlow has started here without it): what a check
    reads of a runner (name, path, inputs, outputs, engine, :meth:`infer_all`)."""

    def __init__(self, artifact, backend: str, options: dict, threads: int = DEFAULT_THREADS,
                 timeout: float = DEFAULT_TIMEOUT):
        self.path, self.name, self.options = Path(artifact), backend, options
        self.threads, self.timeout = threads, timeout
        self.inputs: list = []
        self.outputs: list = []
        self.engine = runners()[backend].variant_name(options)

    def load(self) -> "VariantInChild":
        """Nothing to load here: each call runs in its own process."""
        return self

    def infer_all(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """Every output for ``images``, from a child process; a RuntimeError with the child's
        reason where it did not run."""
        from deploytool.core.tensors import TensorInfo

        run = run_isolated(self.path, self.name, images, self.threads, self.timeout, **self.options)
        if not run.ok:
            raise RuntimeError(run.error)
        self.inputs = [TensorInfo(**{**i, "shape": tuple(i["shape"])}) for i in run.meta["inputs"]]
        self.outputs = [TensorInfo(**{**o, "shape": tuple(o["shape"])}) for o in run.meta["outputs"]]
        self.engine = run.meta.get("engine") or self.engine
        return run.outputs


def runner_that_runs(runner, images: np.ndarray, log=lambda message: None):
    """``runner`` (in this process) when it runs the first of ``images``; else the first of its
    runtime's other variants that does, in child processes (:class:`VariantInChild`); else
    ``runner``, whose error its caller meets again."""
    try:
        runner.load()
        runner.infer_all(images[:1])
        return runner
    except (RuntimeError, ValueError) as exc:  # what convert's check names as a refusal
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        variants = type(runner).variants
    for options in variants[1:]:
        other = VariantInChild(runner.path, runner.name, options, runner.threads)
        try:
            other.infer_all(images[:1])
        except RuntimeError:
            continue
        log(f"{runner.name} refused the file ({first}); its {other.engine} variant runs it")
        return other
    return runner
