"""`deploytool bench --profile`: where the time of one inference goes, operator by operator, on
every runtime that can say (ONNX Runtime's profiler, OpenCV's per-layer timings, TensorFlow's step
statistics; LiteRT's Python package has none, and the table says so in one line)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from deploytool.core.errors import UserError
from deploytool.core.manifest import last_converted
from deploytool.runtimes.base import DEFAULT_THREADS, runner_for, runtimes_reading
from deploytool.workflows.artifacts import manifest_of
from deploytool.workflows.measuring.bench import benchmark_images

PROFILE_RUNS = 20


@dataclass
class Profile:
    """One artifact on one runtime: every operator's median time per call (slowest first), the
    time by op type, or why the runtime cannot report it."""

    artifact: str
    backend: str
    operators: list[dict] = field(default_factory=list)
    by_op: dict = field(default_factory=dict)
    total_ms: float | None = None
    error: str | None = None

    def top(self, count: int) -> list[dict]:
        """The ``count`` slowest operators, each with its share of the total."""
        return [{**row, "share": row["ms"] / self.total_ms if self.total_ms else 0.0}
                for row in self.operators[:count]]

    def as_dict(self) -> dict:
        """Plain-JSON form."""
        return asdict(self)


def profile(artifacts=None, backend: str = "all", threads: int = DEFAULT_THREADS,
            runs: int = PROFILE_RUNS, log=lambda message: None) -> list[Profile]:
    """Per-operator times of ``artifacts`` (default: what convert wrote last) on ``backend`` ("all"
    or one runtime), batch 1, each operator's median over ``runs`` calls after a warm-up."""
    if runs < 1:
        raise UserError(f"--runs must be at least 1, got {runs}")
    artifacts = [Path(a) for a in artifacts] if artifacts else last_converted()
    profiles = []
    for artifact in artifacts:
        images = benchmark_images(manifest_of(artifact), 1)
        usable = runtimes_reading(artifact)
        for name in usable if backend == "all" else [backend]:
            if name not in usable:
                profiles.append(Profile(artifact.name, name, error=f"{name} does not run {artifact.suffix} files"))
                continue
            log(f"profiling {artifact.name} on {name}")
            try:
                rows = runner_for(artifact, name, threads).profile(images, runs)
            except (UserError, RuntimeError) as exc:
                profiles.append(Profile(artifact.name, name, error=str(exc)))
                continue
            by_op: dict[str, float] = {}
            for row in rows:
                by_op[row["op"]] = by_op.get(row["op"], 0.0) + row["ms"]
            profiles.append(Profile(artifact.name, name, sorted(rows, key=lambda row: -row["ms"]),
                                    dict(sorted(by_op.items(), key=lambda item: -item[1])),
                                    sum(row["ms"] for row in rows)))
    return profiles
