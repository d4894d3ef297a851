"""`deploytool matrix`: regenerate docs/compatibility.md, the zoo's deployability matrix."""

from __future__ import annotations

import time
from pathlib import Path

import click

from deploytool.cli.help_texts import example
from deploytool.cli.main import main
from deploytool.cli.options import cluster_options, parse_shape, width_option
from deploytool.cli.tables import progress, stderr, stdout
from deploytool.reports import matrix_settings as settings


@main.command("matrix", epilog=example("matrix"))
@click.argument("names", nargs=-1)
@click.option("--out", "out_file", default="docs/compatibility.md", show_default=True,
              type=click.Path(dir_okay=False),
              help="The Markdown page; the JSON and the heatmap (.png) go beside it.")
@click.option("--random", "random_weights", is_flag=True,
              help="Quicker: random weights, parity only (no training, accuracy or latency).")
@click.option("--epochs", default=settings.EPOCHS, show_default=True, type=click.IntRange(min=1),
              help=f"Most training epochs on digits per model (stops {settings.PATIENCE} epochs "
                   "after the best).")
@click.option("--input-shape", default=",".join(map(str, settings.RANDOM_INPUT_SHAPE)),
              callback=parse_shape, show_default=True,
              help="Input of the random-weight models (trained ones take 28x28x1 digits).")
@width_option(default=settings.WIDTH)
@click.option("--samples", type=click.IntRange(min=1),
              help=f"Held-out images verified (default: all {settings.SAMPLES} trained, "
                   f"{settings.RANDOM_SAMPLES} random).")
@click.option("--artifacts", "artifact_dir", default="artifacts/matrix", show_default=True,
              type=click.Path(file_okay=False), help="Work folder: run folders, artifacts, cached cells.")
@click.option("--fresh", is_flag=True, help="Forget the cached cells of an earlier run.")
@click.option("--fleet", type=click.Path(exists=True),
              help="Your own models instead of the zoo: a folder of model files (each with its "
                   "settings in <file>.json) or a JSON file listing them with their "
                   "preprocessing, labels and data (see docs/commands/matrix.md).")
@cluster_options
def matrix_command(names, out_file, random_weights, epochs, input_shape, width, samples,
                   artifact_dir, fresh, fleet, address, serial):
    """Regenerate the deployability matrix: zoo models (or NAMES) x artifact kinds x runtimes,
    trained on digits, with accuracy, latency, size and phone-GPU readiness in every cell.
    Each model is a cell run on Ray (a local instance, or --ray-address) and kept in
    --artifacts by its inputs, so a rerun computes only what is missing."""
    from deploytool.core.fileio import write_bytes

    if fleet:
        from click.core import ParameterSource

        if click.get_current_context().get_parameter_source("out_file") == ParameterSource.DEFAULT:
            out_file = "fleet-matrix.md"  # not the zoo's page
        if names or random_weights:
            raise click.UsageError("--fleet checks your models: give no zoo NAMES and no --random")
        cells, written = _fleet(fleet, out_file, samples or settings.SAMPLES, artifact_dir, fresh,
                                address, serial)
    elif random_weights:
        from deploytool.reports.matrix import build_matrix

        cells, markdown = build_matrix(names or None, input_shape, width, artifact_dir,
                                       samples or settings.RANDOM_SAMPLES, log=progress("·", "dim"),
                                       address=address, serial=serial, fresh=fresh)
        write_bytes(out_file, markdown.encode())
        written = [out_file]
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from deploytool.reports.matrix_trained import build_trained_matrix, write_outputs

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=stderr) as bar:
            task = bar.add_task("matrix", total=len(names) or None)

            def on_model(done, total, model):
                bar.update(task, completed=done, total=total,
                           description=f"matrix: {model}" if model else "matrix")

            started = time.perf_counter()
            results, reused = build_trained_matrix(
                names or None, Path(artifact_dir), epochs, width, samples or settings.SAMPLES, fresh,
                log=lambda message: bar.console.print(f"[dim]· {message}[/dim]"), progress=on_model,
                address=address, serial=serial)
        wall = None if reused else time.perf_counter() - started
        written = write_outputs(results, out_file, epochs, width, samples or settings.SAMPLES, wall,
                                Path(artifact_dir) / "artifacts")
        cells = [cell for result in results.values() for cell in result["cells"]]
    passed = sum(c["status"] == "pass" for c in cells)
    failed = sum(c["status"] == "fail" for c in cells)
    stdout.print(f"{', '.join(map(str, written))}: {passed} cells pass, {failed} fail "
                 "(each with its cause)")


def _fleet(fleet, out_file, samples, artifact_dir, fresh, address, serial):
    """The fleet's page and JSON: the cells and the paths written."""
    from deploytool.reports.fleet import build_fleet_matrix, read_fleet, write_fleet_outputs

    models = read_fleet(fleet)
    cells, wall = build_fleet_matrix(models, artifact_dir, samples, address=address, serial=serial,
                                     fresh=fresh, log=progress("·", "dim"))
    return cells, write_fleet_outputs(cells, models, samples, wall, out_file)
