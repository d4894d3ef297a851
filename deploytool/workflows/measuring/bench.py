"""Latency, throughput, memory and size of artifacts on each runtime, with the Keras model as the
baseline; every measurement runs in its own child process."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from deploytool.core.errors import UserError
from deploytool.core.fileio import size_of
from deploytool.core.manifest import last_converted
from deploytool.runtimes.base import DEFAULT_THREADS, runners, runtimes_reading
from deploytool.runtimes.isolation import DEFAULT_TIMEOUT, run_variants
from deploytool.workflows.artifacts import manifest_of, reference_samples

RUNS, WARMUP = 30, 5
# Timed calls go on past --runs until they add up to this: at 0.02 ms a call, 30 calls are 0.6 ms
# of measurement, and their medians moved by 30 % between two runs of the same file.
MIN_SECONDS = 0.25
COMMAND_TIMEOUT = 600  # seconds a runtime may take in `deploytool bench` (a full-size model's runs)


@dataclass
class BenchRow:
    """One artifact on one runtime (status "error" with the reason when it could not run)."""

    artifact: str
    backend: str
    size_bytes: int
    status: str = "ok"
    median_ms: float | None = None
    p90_ms: float | None = None
    images_per_second: float | None = None
    peak_memory_mb: float | None = None
    calls: int | None = None  # timed calls the median is of (--runs, or more for a fast model)
    engine: str | None = None
    error: str | None = None
    precision: str | None = None  # the artifact's (None for the Keras baseline)
    reference: str | None = None  # the Keras model it was converted from
    emulated: bool = False  # timed on an emulated CPU: an emulator's speed, not the device's


def measure(path: Path, label: str, backend: str, images, threads: int = DEFAULT_THREADS,
            runs: int = RUNS, warmup: int = WARMUP, timeout: float = DEFAULT_TIMEOUT) -> BenchRow:
    """Time ``backend`` on ``path``: the first of its variants (OpenCV's engines) that runs."""
    attempt = run_variants(path, backend, images, threads=threads, timeout=timeout,
                           bench={"runs": runs, "warmup": warmup, "min_seconds": MIN_SECONDS})[-1]
    run = attempt.run
    if not run.ok:
        return BenchRow(label, backend, size_of(path), status="error", error=f"{run.kind}: {run.error}")
    timings = sorted(run.meta["timings"])
    median = statistics.median(timings)
    return BenchRow(label, backend, size_of(path), median_ms=median * 1e3,
                    p90_ms=timings[min(len(timings) - 1, int(0.9 * len(timings)))] * 1e3,
                    images_per_second=len(images) / median,
                    peak_memory_mb=(run.meta["peak_rss_bytes"] or 0) / 1e6 or None,
                    calls=len(timings),
                    engine=attempt.options.get("engine") or run.meta.get("engine"),
                    emulated=runners()[backend].emulated)


def benchmark_pixels(manifest, batch: int) -> np.ndarray:
    """``batch`` held-out 8-bit images (what verify compares on), repeated if the set holds fewer:
    what a runtime that preprocesses by itself is fed."""
    raw = np.asarray(reference_samples(manifest, None, batch)[0], np.uint8)
    return np.resize(raw, (batch, *raw.shape[1:]))


def benchmark_images(manifest, batch: int) -> np.ndarray:
    """:func:`benchmark_pixels` preprocessed as the manifest says."""
    return manifest.preprocessing.apply(benchmark_pixels(manifest, batch)).astype(np.float32)


def bench(artifacts=None, backend: str = "all", threads: int = DEFAULT_THREADS, batch: int = 1,
          runs: int = RUNS, warmup: int = WARMUP, timeout: float = DEFAULT_TIMEOUT,
          log=lambda message: None) -> list[BenchRow]:
    """Benchmark ``artifacts`` (default: what convert wrote last) on ``backend`` ("all" or one
    runtime), plus one Keras baseline row per reference model."""
    if min(batch, runs) < 1 or warmup < 0:
        raise UserError("--batch and --runs must be at least 1, --warmup at least 0")
    artifacts = [Path(a) for a in artifacts] if artifacts else last_converted()
    manifests = {artifact: manifest_of(artifact) for artifact in artifacts}
    rows, baselines = [], set()
    for artifact, manifest in manifests.items():
        pixels = benchmark_pixels(manifest, batch)
        images = manifest.preprocessing.apply(pixels).astype(np.float32)
        reference = manifest.reference
        if reference not in baselines and reference.exists():
            baselines.add(reference)
            log(f"{reference.name} on keras")
            rows.append(measure(reference, f"{reference.name} (Keras baseline)", "keras", images,
                                 threads, runs, warmup, timeout))
        usable = runtimes_reading(artifact)
        for name in usable if backend == "all" else [backend]:
            if name not in usable:
                rows.append(BenchRow(artifact.name, name, size_of(artifact), status="error",
                                     error=f"{name} does not run {artifact.suffix} files"))
                continue
            log(f"{artifact.name} on {name}")
            fed = pixels if runners()[name].takes_pixels else images
            row = measure(artifact, artifact.name, name, fed, threads, runs, warmup, timeout)
            row.precision, row.reference = manifest.precision, str(manifest.reference)
            rows.append(row)
    return rows


# A reduced-precision artifact measured this much slower than its float32 twin is said to be
# slower (below it, two medians of the same speed can differ by chance on a busy machine).
SLOWER_MARGIN = 1.10


def clearly_slower(median_ms: float | None, float_median_ms: float | None) -> bool:
    """Whether a reduced-precision artifact's median is slower than its float32 twin's by more
    than the timing noise (:data:`SLOWER_MARGIN`); False when either figure is missing."""
    return bool(median_ms and float_median_ms and median_ms > float_median_ms * SLOWER_MARGIN)


def slower_than_float(rows: list[BenchRow]) -> list[str]:
    """One line for each reduced-precision artifact that ran slower than the float32 artifact of
    the same model, in the same format, on the same runtime, with both figures (int8 is not always the fast choice:
    on a small model its quantize and requantize steps can cost more than they save)."""
    lines = []
    measured = [row for row in rows if row.status == "ok" and row.precision and not row.emulated]
    for row in measured:
        if row.precision == "fp32":
            continue
        float_rows = [other for other in measured if other.precision == "fp32"
                      and other.reference == row.reference and other.backend == row.backend
                      and Path(other.artifact).suffix == Path(row.artifact).suffix]
        for other in float_rows:
            if clearly_slower(row.median_ms, other.median_ms):
                lines.append(f"on {row.backend}, {row.artifact} takes {milliseconds(row.median_ms)} "
                             f"against {milliseconds(other.median_ms)} for {other.artifact}: "
                             f"{row.precision} is {row.median_ms / other.median_ms:.1f}x slower than "
                             "float32 here (`deploytool bench --profile` shows where the time goes)")
    return lines


def float_sibling(artifact, manifest=None):
    """The fp32 artifact of the same model and format in ``artifact``'s folder (converted
    before it) and its manifest, or None. ``manifest`` is ``artifact``'s, if already read."""
    artifact = Path(artifact)
    manifest = manifest or manifest_of(artifact)
    for other in sorted(artifact.parent.glob(f"*{artifact.suffix}")):
        try:
            twin = manifest_of(other)
        except UserError:
            continue
        if other != artifact and twin.precision == "fp32" and twin.reference == manifest.reference:
            return other, twin
    return None


def against_float_sibling(artifact, threads: int = DEFAULT_THREADS) -> list[str]:
    """For a reduced-precision ``artifact`` with a :func:`float_sibling`: both timed on the
    format's own runtime, and :func:`slower_than_float`'s line if this one is slower; else
    nothing (and no timing at all)."""
    from deploytool.converters.targets.registry import target_for

    manifest = manifest_of(artifact)
    sibling = float_sibling(artifact, manifest) if manifest.precision != "fp32" else None
    if sibling is None:
        return []
    images = benchmark_images(manifest, 1)
    rows = []
    for path, entry in ((Path(artifact), manifest), sibling):
        row = measure(path, path.name, target_for(path).runtime, images, threads)
        row.precision, row.reference = entry.precision, str(entry.reference)
        rows.append(row)
    return slower_than_float(rows)


def plot_latency(rows: list[BenchRow], path) -> None:
    """A horizontal bar chart of median latency per artifact and runtime, as a PNG, on a log
    axis so that a slow baseline does not flatten every other bar; each bar is labelled with its
    time to the precision it needs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measured = [row for row in rows if row.status == "ok"]
    labels = [f"{row.artifact}\n{row.backend}" + (f" ({row.engine})" if row.engine else "")
              + (", emulated" if row.emulated else "") for row in measured]
    figure, axis = plt.subplots(figsize=(9, 0.55 * len(measured) + 1.2))
    bars = axis.barh(labels, [row.median_ms for row in measured],
                     color=["tab:grey" if row.backend == "keras" else "tab:blue" for row in measured])
    axis.bar_label(bars, [milliseconds(row.median_ms) for row in measured], padding=3)
    axis.invert_yaxis()
    axis.set(xscale="log", xlabel="median latency, batch 1 (ms, log scale)",
             title="deploytool bench (grey: Keras baseline)")
    if measured:
        axis.set_xlim(min(r.median_ms for r in measured) / 2, max(r.median_ms for r in measured) * 4)
    axis.grid(axis="x", which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def emulated_notes(rows: list[BenchRow]) -> list[str]:
    """One line for each runtime timed on an emulated CPU: its figures are the emulator's on
    this PC, good for nothing about the device's speed."""
    return [f"{name}: timed under emulation (QEMU on this PC's CPU); these are an emulator's "
            "figures, not a phone's speed, and compare nothing but this emulator's runs"
            for name in dict.fromkeys(row.backend for row in rows
                                      if row.emulated and row.status == "ok")]


def milliseconds(value: float | None, digits: int = 2) -> str:
    """A latency with ``digits`` significant digits under 10 ms, whole above: 0.012 ms, 0.43 ms,
    12 ms ("-" for none)."""
    if value is None:
        return "-"
    return f"{value:.{digits}g} ms" if value < 10 else f"{value:.0f} ms"


def rows_as_dicts(rows: list[BenchRow]) -> list[dict]:
    """Plain-JSON form of the rows."""
    return [asdict(row) for row in rows]


