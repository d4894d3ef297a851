"""The timing step of a page's cells: each artifact that ran, timed on its runtime as
`deploytool bench` times it (batch 1, a child process per runtime), with its node to itself
(:mod:`deploytool.cluster`), after the cell's conversions and checks are done."""

from __future__ import annotations

from pathlib import Path

from deploytool.runtimes.base import DEFAULT_THREADS, runners
from deploytool.workflows.artifacts import manifest_of


def timed_cells(cells: list[dict], timing: dict, threads: int = DEFAULT_THREADS) -> list[dict]:
    """``cells`` with ``median_ms`` set on each one whose artifact ran on its runtime (a cell
    with figures): ``timing`` {"runs", "warmup"}; a cell that would not run a second time gets
    ``timing_error`` instead."""
    from deploytool.workflows.measuring.bench import benchmark_images, benchmark_pixels, measure

    for cell in cells:
        if not cell.get("figures") or not cell.get("file") or not Path(cell["file"]).exists():
            continue
        path = Path(cell["file"])
        manifest = manifest_of(path)
        fed = benchmark_pixels(manifest, 1) if runners()[cell["runtime"]].takes_pixels else \
            benchmark_images(manifest, 1)
        row = measure(path, cell["artifact"], cell["runtime"], fed, threads, timing["runs"],
                      timing["warmup"])
        cell["median_ms"] = row.median_ms
        if row.error:
            cell["timing_error"] = row.error
    return cells
