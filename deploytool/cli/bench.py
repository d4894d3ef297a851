"""`deploytool bench`: latency, throughput, memory and size of artifacts on each runtime."""

from __future__ import annotations

import json

import click

from deploytool.cli.help_texts import example, runtimes_text
from deploytool.cli.main import main
from deploytool.cli.options import backend_option, json_option
from deploytool.cli.tables import print_table, progress
from deploytool.runtimes.base import DEFAULT_THREADS
from deploytool.workflows.bench import COMMAND_TIMEOUT, RUNS, WARMUP


@main.command("bench", epilog=example("bench"), help=(
    "Latency, throughput, peak memory and size of ARTIFACTS (default: what `convert` wrote "
    f"last) on {runtimes_text()}, with the Keras model as the baseline."))
@click.argument("artifacts", nargs=-1, type=click.Path())
@backend_option
@click.option("--threads", default=DEFAULT_THREADS, show_default=True, type=click.IntRange(min=1))
@click.option("--batch", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--runs", default=RUNS, show_default=True, type=click.IntRange(min=1))
@click.option("--warmup", default=WARMUP, show_default=True, type=click.IntRange(min=0))
@click.option("--timeout", default=COMMAND_TIMEOUT, show_default=True, type=click.FloatRange(min=1),
              help="Seconds each runtime may take before it is killed.")
@json_option()
@click.option("--plot", type=click.Path(dir_okay=False), help="Write a latency bar chart (PNG).")
def bench_command(artifacts, backend, threads, batch, runs, warmup, timeout, as_json, plot):
    """Latency, throughput, peak memory and size of ARTIFACTS on each runtime (help: the
    registry's runtimes)."""
    from deploytool.workflows.bench import bench, plot_latency, rows_as_dicts

    rows = bench(artifacts or None, backend, threads, batch, runs, warmup, timeout,
                 log=progress("· timing", "dim"))
    if plot:
        plot_latency(rows, plot)
    if as_json:
        click.echo(json.dumps(rows_as_dicts(rows), indent=2))
        return

    def cells(row):
        size = f"{row.size_bytes / 1e6:.2f} MB"
        if row.status != "ok":
            return (row.artifact, row.backend, size, f"[red]{row.error}[/red]", "", "", "")
        return (row.artifact, row.backend + (f" ({row.engine})" if row.engine else ""), size,
                f"{row.median_ms:.2f} ms", f"{row.p90_ms:.2f} ms", f"{row.images_per_second:.1f}",
                f"{row.peak_memory_mb:.0f} MB" if row.peak_memory_mb else "-")

    print_table(f"deploytool bench: {threads} threads, batch {batch}, median of {runs} runs",
                ("artifact", "runtime", "size", "median", "p90", "images/s", "peak memory"),
                map(cells, rows), right=("size", "median", "p90", "images/s", "peak memory"))
