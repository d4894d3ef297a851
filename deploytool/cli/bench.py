"""`deploytool bench`: latency, throughput, memory and size of artifacts on each runtime."""

from __future__ import annotations

import json

import click

from deploytool.cli.help_texts import example, runtimes_text
from deploytool.cli.main import main
from deploytool.cli.options import backend_option, json_option
from deploytool.cli.tables import print_table, progress, stdout
from deploytool.runtimes.base import DEFAULT_THREADS
from deploytool.workflows.measuring.bench import COMMAND_TIMEOUT, MIN_SECONDS, RUNS, WARMUP


@main.command("bench", epilog=example("bench"), help=(
    "Latency, throughput, peak memory and size of ARTIFACTS (default: what `convert` wrote "
    f"last) on {runtimes_text()}, with the Keras model as the baseline."))
@click.argument("artifacts", nargs=-1, type=click.Path())
@backend_option
@click.option("--threads", default=DEFAULT_THREADS, show_default=True, type=click.IntRange(min=1))
@click.option("--batch", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--runs", default=RUNS, show_default=True, type=click.IntRange(min=1),
              help=f"Timed calls per artifact, at least: a fast model gets more, until they add "
                   f"up to {MIN_SECONDS:g} s.")
@click.option("--warmup", default=WARMUP, show_default=True, type=click.IntRange(min=0))
@click.option("--timeout", default=COMMAND_TIMEOUT, show_default=True, type=click.FloatRange(min=1),
              help="Seconds each runtime may take before it is killed.")
@json_option()
@click.option("--plot", type=click.Path(dir_okay=False), help="Write a latency bar chart (PNG).")
@click.option("--profile", "per_operator", is_flag=True,
              help="Instead: where the time of one call goes, per operator, on each runtime that "
                   "reports it (ONNX Runtime, OpenCV dnn, TensorFlow; LiteRT's Python package "
                   "cannot), the slowest first and by op type.")
@click.option("--top", default=10, show_default=True, type=click.IntRange(min=1),
              help="With --profile: how many of the slowest operators to list.")
def bench_command(artifacts, backend, threads, batch, runs, warmup, timeout, as_json, plot,
                  per_operator, top):
    """Latency, throughput, peak memory and size of ARTIFACTS on each runtime (help: the
    registry's runtimes)."""
    from deploytool.workflows.measuring.bench import (bench, emulated_notes, plot_latency,
                                                      rows_as_dicts, slower_than_float)

    if per_operator:
        return profile_command(artifacts, backend, threads, runs, top, as_json)
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
        runtime = row.backend + (f" ({row.engine})" if row.engine else "")
        return (row.artifact, runtime + (", emulated" if row.emulated else ""), size,
                f"{row.median_ms:.2f} ms", f"{row.p90_ms:.2f} ms", f"{row.images_per_second:.1f}",
                f"{row.peak_memory_mb:.0f} MB" if row.peak_memory_mb else "-")

    print_table(f"deploytool bench: {threads} threads, batch {batch}, median of at least {runs} "
                f"calls ({MIN_SECONDS:g} s of them for a fast model)",
                ("artifact", "runtime", "size", "median", "p90", "images/s", "peak memory"),
                map(cells, rows), right=("size", "median", "p90", "images/s", "peak memory"))
    for line in [*slower_than_float(rows), *emulated_notes(rows)]:
        stdout.print(line)


def profile_command(artifacts, backend, threads, runs, top, as_json) -> None:
    """bench --profile: per runtime, the slowest operators and the time by op type."""
    from deploytool.workflows.measuring.profile import profile

    profiles = profile(artifacts or None, backend, threads, runs, log=progress("·", "dim"))
    if as_json:
        click.echo(json.dumps([item.as_dict() for item in profiles], indent=2))
        return
    for item in profiles:
        if item.error:
            stdout.print(f"{item.artifact} on {item.backend}: no per-operator times: {item.error}")
            continue
        print_table(f"{item.artifact} on {item.backend}: {item.total_ms:.3f} ms per call in "
                    f"{len(item.operators)} operators (each its median of {runs} calls, {threads} threads)",
                    ("operator", "op", "ms", "share"),
                    ((row["name"][:70], row["op"], f"{row['ms']:.4f}", f"{row['share']:.1%}")
                     for row in item.top(top)), right=("ms", "share"))
        stdout.print("by op type: " + ", ".join(
            f"{op} {ms / item.total_ms:.0%}" for op, ms in list(item.by_op.items())[:6]))
