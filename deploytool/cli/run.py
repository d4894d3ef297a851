"""`deploytool run`: the whole job in one run folder, resumable."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from deploytool.cli.help_texts import example
from deploytool.cli.main import main
from deploytool.cli.options import (dataset_name, default_run_folder, parse_shape,
                                    preprocess_options, refuse_unless, width_option)
from deploytool.cli.tables import print_table, progress, stdout
from deploytool.workflows.training.train_options import TrainOptions
from deploytool.workflows.verification.verify import DEFAULT_SAMPLES


@main.command("run", epilog=example("run"))
@click.argument("model")
@click.option("--data", callback=dataset_name, help="A zoo model: the data set to train and verify on (default digits). A "
                             "model file (or --weights): the images to calibrate and verify on, "
                             "e.g. images:FOLDER (default: digits for a grey model, photos for colour).")
@click.option("--calib-data", callback=dataset_name,
              help="The images int8 calibrates on, where they differ from --data (images:FOLDER, "
                   "a data set or a .npy of preprocessed images).")
@click.option("--labels", "labels_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="The model's class names, one per line (a model file has none of its own): "
                   "kept in every manifest and bundled for the app.")
@click.option("--epochs", default=TrainOptions.epochs, show_default=True, type=int)
@click.option("--batch-size", default=TrainOptions.batch_size, show_default=True, type=int)
@click.option("--input-shape", callback=parse_shape, help="HEIGHT,WIDTH,CHANNELS for training.")
@width_option()
@click.option("--weights", type=click.Path(dir_okay=False), help="Use these weights instead of training.")
@click.option("--samples", default=DEFAULT_SAMPLES, show_default=True, type=click.IntRange(min=1),
              help="Images verified.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Run folder (default runs/MODEL-DATA-pipeline).")
@click.option("--app", type=click.Path(file_okay=False),
              help="Bundle the int8 .tflite into this Android demo app (default: into the run folder).")
@click.option("--prefer", type=click.Choice(["int8", "fp32"]),
              help="The .tflite the app gets where both pass verify (default int8: the smallest; "
                   "this machine's timings do not choose for a phone).")
@click.option("--fresh", is_flag=True,
              help="Start over in the run folder (default: reuse every step done earlier with the "
                   "same options, and redo a step whose options changed, and the steps after it).")
@preprocess_options
def run_command(model, data, calib_data, labels_file, epochs, batch_size, input_shape, width,
                weights, samples, out_dir, app, prefer, fresh, preprocess):
    """The whole job: train -> fold -> quantize -> export -> verify on every runtime -> bench ->
    bundle for Android -> report. Run it again to resume after an interruption."""
    from deploytool.models import list_models
    from deploytool.workflows.pipeline.pipeline import DEFAULT_TRAIN_DATA, PipelineParityError, run_pipeline

    zoo = model in list_models() or not Path(model).exists()  # an unknown name: its own error
    refuse_unless(zoo and not weights, ("epochs", "batch_size"),
                  "applies when run trains a zoo model, and " +
                  ("--weights are given" if zoo else f"{model} is a model file, not trained here"))
    refuse_unless(zoo, ("input_shape", "width"),
                  f"applies to zoo models, and {model} is not one (a model file brings its own)")
    out_dir = out_dir or default_run_folder(model, data or DEFAULT_TRAIN_DATA, "-pipeline")
    failure = None
    options = TrainOptions(epochs=epochs, batch_size=batch_size, input_shape=input_shape, width=width,
                           preprocess=preprocess)
    try:
        report = run_pipeline(model, data, out_dir, options, weights=weights, samples=samples,
                              app=app, log=progress("[bold]▸[/bold]"), fresh=fresh,
                              calib_data=calib_data, labels=labels_file, prefer=prefer)
    except PipelineParityError as exc:
        failure, report = exc, exc.report
    print_run_summary(Path(out_dir))
    if failure is not None:
        click.echo(f"deploytool: {failure}", err=True)
        sys.exit(1)
    stdout.print(f"report: {report}")


def print_run_summary(folder: Path) -> None:
    """The run's summary table: artifact, runtime, pass, accuracy, latency."""
    from deploytool.workflows.pipeline.run_report import bundle_summary, summary_rows

    def cells(row):
        return (row["artifact"], row["runtime"],
                {"pass": "[green]pass[/green]", "fail": "[red]fail[/red]"}.get(row["status"],
                                                                               row["status"]),
                f"{row['accuracy']:.4f}" if row["accuracy"] is not None else "-",
                (f"{row['median_ms']:.3g}" + (" emulated" if row.get("emulated") else ""))
                if row["median_ms"] is not None else "-")

    print_table(f"deploytool run: {folder}", ("artifact", "runtime", "pass", "accuracy",
                                              "ms (batch 1)"),
                map(cells, summary_rows(folder)), right=("accuracy", "ms (batch 1)"))
    bundled = bundle_summary(folder)
    if bundled["file"] is None:
        stdout.print(f"android: nothing bundled: {bundled['why']}")
    else:
        state = "verified on LiteRT" if bundled["verified"] else "[red]NOT verified[/red]"
        stdout.print(f"android: {bundled['file']} bundled, {state} ({bundled['why']})")
