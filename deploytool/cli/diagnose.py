"""`deploytool diagnose`: where a quantized artifact loses accuracy, layer by layer."""

from __future__ import annotations

import json

import click

from deploytool.cli.help_texts import example
from deploytool.cli.main import main
from deploytool.cli.options import dataset_name, json_option
from deploytool.cli.tables import print_table, progress, stdout
from deploytool.workflows.diagnose import DEFAULT_SAMPLES


@main.command("diagnose", epilog=example("diagnose"))
@click.argument("artifact", type=click.Path())
@click.option("--data", callback=dataset_name, help="Images to compare on: images:FOLDER, folder:PATH or a data set "
                             "(default: the model's own, else digits or photos).")
@click.option("--samples", default=DEFAULT_SAMPLES, show_default=True, type=int,
              help="Images compared.")
@click.option("--top", default=3, show_default=True, type=click.IntRange(min=1),
              help="How many costliest layers to name.")
@click.option("--plot", type=click.Path(dir_okay=False), help="Write the error-against-depth plot (PNG).")
@json_option("the report as JSON")
def diagnose_command(artifact, data, samples, top, plot, as_json):
    """Where a quantized ARTIFACT loses accuracy: every quantized layer against its float self."""
    from deploytool.core.quant_errors import costliest
    from deploytool.workflows.diagnose import diagnose, plot_errors

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
