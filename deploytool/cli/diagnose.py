"""`deploytool diagnose`: where a quantized artifact loses accuracy, layer by layer; with
``--backend``, where another runtime computes the artifact differently from its own."""

from __future__ import annotations

import json

import click

from deploytool.cli.help_texts import example
from deploytool.cli.main import main
from deploytool.cli.options import dataset_name, json_option
from deploytool.cli.tables import print_table, progress, stdout
from deploytool.workflows.quantization.diagnose import DEFAULT_SAMPLES


@main.command("diagnose", epilog=example("diagnose"))
@click.argument("artifact", type=click.Path())
@click.option("--data", callback=dataset_name, help="Images to compare on: images:FOLDER, folder:PATH or a data set "
                             "(default: the model's own, else digits or photos).")
@click.option("--samples", default=DEFAULT_SAMPLES, show_default=True, type=int,
              help="Images compared.")
@click.option("--top", default=3, show_default=True, type=click.IntRange(min=1),
              help="How many costliest layers to name.")
@click.option("--plot", type=click.Path(dir_okay=False), help="Write the error-against-depth plot (PNG).")
@click.option("--backend", type=click.Choice(["opencv"]),
              help="Instead: run the artifact on its own runtime and on this one with every layer's "
                   "output exposed, name the first layer where they part, and write a minimal "
                   "reproduction of it (any precision).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="With --backend: where the reproduction goes (default: beside the artifact, "
                   "in <artifact>_diagnose/).")
@json_option("the report as JSON")
def diagnose_command(artifact, data, samples, top, plot, backend, out_dir, as_json):
    """Where a quantized ARTIFACT loses accuracy: every quantized layer against its float self;
    or, with --backend, where another runtime computes it differently from its own."""
    from deploytool.core.quant_errors import costliest
    from deploytool.workflows.quantization.diagnose import diagnose, plot_errors

    if backend:
        return runtime_diff_command(artifact, backend, data, samples, out_dir, as_json)
    report = diagnose(artifact, data, samples, log=progress("·", "dim"))
    report.worst = [row.name for row in costliest(report.rows, top)]
    if plot:
        plot_errors(report, plot)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return

    def cells(row):
        mark, end = ("[bold red]", "[/bold red]") if row.name in report.worst else ("", "")
        return (str(row.depth), f"{mark}{row.name[:60]}{end}", row.op,
                f"{row.scale:.3g}" if row.scale else "-",
                f"{row.own_snr_db:.1f} dB" if row.scale else "-",
                f"{row.own_worst_channel_snr_db:.1f} dB" if row.scale else "-",
                f"{row.accumulated_snr_db:.1f} dB", f"{row.accumulated_cosine:.4f}",
                "; ".join(row.problems) or "-")

    print_table(f"deploytool diagnose: {report.artifact} ({report.format} {report.precision}), "
                f"{report.images['samples']} {report.images['dataset']} images",
                ("#", "layer", "op", "scale", "own SNR", "own worst ch.", "accum. SNR",
                 "accum. cosine", "problem"), map(cells, report.rows),
                right=("#", "scale", "own SNR", "own worst ch.", "accum. SNR", "accum. cosine"))
    for rank, name in enumerate(report.worst, 1):
        row = next(r for r in report.rows if r.name == name)
        stdout.print(f"{rank}. {name} ({row.op}): own SNR {row.own_snr_db:.1f} dB"
                     + (f" - {row.problems[0]}" if row.problems else ""))
    stdout.print(f"{report.summary()} ({report.seconds:.0f} s)")


def runtime_diff_command(artifact, backend, data, samples, out_dir, as_json) -> None:
    """diagnose --backend: the layers compared and the first that diverges."""
    from pathlib import Path

    from deploytool.workflows.layer_search.runtime_diff import DEFAULT_SAMPLES as SAMPLES, runtime_diff

    folder = Path(out_dir) if out_dir else Path(artifact).with_name(Path(artifact).stem + "_diagnose")
    samples = SAMPLES if samples == DEFAULT_SAMPLES else samples  # its own default: fewer images
    report = runtime_diff(artifact, backend, data, samples, folder, log=progress("·", "dim"))
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    first = report.first.name if report.first else None
    print_table(f"deploytool diagnose: {report.artifact} on {report.runtime} against {report.backend}, "
                f"{report.images['samples']} {report.images['dataset']} images",
                ("layer", "op", f"{report.backend} layer", "output", "max abs", "relative", "cosine"),
                ((f"[bold red]{row.name}[/bold red]" if row.name == first else row.name, row.op,
                  row.backend_type, "x".join(map(str, row.shape)), f"{row.max_abs:.2e}",
                  f"{row.relative:.1e}", f"{row.cosine:.6f}") for row in report.rows),
                right=("max abs", "relative", "cosine"))
    stdout.print(report.summary())
    if report.attributes:
        stdout.print("attributes: " + ", ".join(f"{k}={v}" for k, v in report.attributes.items()))
    if report.reproduction:
        record = report.reproduction
        stdout.print(f"minimal reproduction: {record['model']} and {record['text']}"
                     + ("" if record.get("reproduces") else " (the layer alone does not show it)")
                     if record["written"] else f"no minimal reproduction: {record['why']}")
