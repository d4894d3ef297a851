"""`deploytool train`: train a zoo model on a data set into a run folder."""

from __future__ import annotations

import sys

import click

from deploytool.cli.help_texts import example
from deploytool.cli.main import main
from deploytool.cli.options import (dataset_name, default_run_folder, parse_shape,
                                    preprocess_options, width_option)
from deploytool.cli.tables import stderr, stdout
from deploytool.workflows.training.train_options import TrainOptions


@main.command("train", epilog=example("train"))
@click.argument("model")
@click.option("--data", callback=dataset_name, default="digits", show_default=True,
              help="digits (offline), mnist, fashion_mnist, or folder:PATH (one sub-folder per class).")
@click.option("--epochs", default=TrainOptions.epochs, show_default=True, type=int)
@click.option("--batch-size", default=TrainOptions.batch_size, show_default=True, type=int)
@click.option("--learning-rate", type=float,
              help="Adam learning rate (default: the model's own, 1e-3; VGG-16 1e-4).")
@click.option("--input-shape", callback=parse_shape,
              help="HEIGHT,WIDTH,CHANNELS (default 28,28,1; 224,224,3 for folders).")
@width_option()
@click.option("--mixed-precision", is_flag=True, help="float16 compute, float32 variables.")
@click.option("--early-stopping", type=int, metavar="PATIENCE",
              help="Stop after PATIENCE epochs without a better validation accuracy.")
@click.option("--resume", is_flag=True, help="Continue the unfinished run in --out.")
@click.option("--seed", default=TrainOptions.seed, show_default=True, type=int)
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Run folder (default runs/MODEL-DATA).")
@preprocess_options
def train_command(model, data, epochs, batch_size, learning_rate, input_shape, width,
                  mixed_precision, early_stopping, resume, seed, out_dir, preprocess):
    """Train zoo MODEL on a data set; writes a run folder that convert and verify accept."""
    from deploytool.workflows.training.train import train

    options = TrainOptions(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                           input_shape=input_shape, width=width, mixed_precision=mixed_precision,
                           early_stopping=early_stopping, resume=resume, seed=seed,
                           preprocess=preprocess)
    out_dir = out_dir or default_run_folder(model, data)
    try:
        metrics = train(model, data, out_dir, options, console=stderr)
    except KeyboardInterrupt:
        click.echo(f"deploytool: interrupted; continue with --resume --out {out_dir}", err=True)
        sys.exit(130)
    stdout.print(f"{out_dir}: test accuracy {metrics['test_accuracy']:.4f} on "
                 f"{metrics['test_images']} images, {metrics['wall_seconds']:.0f} s, "
                 f"{metrics['images_per_second']:.0f} images/s")
