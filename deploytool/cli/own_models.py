"""`deploytool own-models`: regenerate docs/own-models.md, models deploytool did not write."""

from __future__ import annotations

from pathlib import Path

import click

from deploytool.cli.help_texts import example
from deploytool.cli.main import main
from deploytool.cli.options import cluster_options
from deploytool.cli.tables import progress, stdout
from deploytool.reports.matrix_settings import OWN_MODELS_CALIB_SAMPLES, OWN_MODELS_SAMPLES


@main.command("own-models", epilog=example("own-models"))
@click.argument("families", nargs=-1)
@click.option("--out", "out_file", default="docs/own-models.md", show_default=True,
              type=click.Path(dir_okay=False))
@click.option("--work", "work_dir", default="artifacts/own-models", show_default=True,
              type=click.Path(file_okay=False), help="Model files and artifacts (reused on a rerun).")
@click.option("--layers/--no-layers", default=True, show_default=True,
              help="Also build and check one tiny model per built-in layer.")
@click.option("--samples", default=OWN_MODELS_SAMPLES, show_default=True, type=click.IntRange(min=1))
@click.option("--calib-samples", default=OWN_MODELS_CALIB_SAMPLES, show_default=True,
              type=click.IntRange(min=1))
@click.option("--fresh", is_flag=True, help="Forget the cached cells of an earlier run.")
@cluster_options
@click.option("--outputs-only", is_flag=True,
              help="Recompute only the section on several outputs, free input sizes and saved "
                   "forms, and put it into the existing --out page.")
def own_models_command(families, out_file, work_dir, layers, samples, calib_samples, fresh,
                       address, serial, outputs_only):
    """Regenerate docs/own-models.md: keras.applications FAMILIES (default: all fourteen) saved
    by Keras 3, one tiny model per built-in layer, and tiny models with several outputs, a free
    input size or no functional model in the file, converted and verified as a user's files.
    Each family and layer model is a cell run on Ray (a local instance, or --ray-address) and
    kept in --work by its inputs."""
    from deploytool.core.fileio import write_bytes
    from deploytool.reports.matrix_sections import count_summary
    from deploytool.reports.output_cases import build_section, splice_section
    from deploytool.reports.own_models import PAGE_KINDS, build_page

    def section_into(page: str) -> str:
        cells, section = build_section(Path(work_dir) / "outputs", samples, calib_samples,
                                       PAGE_KINDS, log=progress("·", "dim"))
        stdout.print(f"several outputs, free sizes, saved forms: {count_summary(cells)}")
        return splice_section(page, section)

    if outputs_only:
        if not Path(out_file).exists():
            raise click.UsageError(f"--outputs-only puts the section into {out_file}, which "
                                   "does not exist; run without it first")
        write_bytes(out_file, section_into(Path(out_file).read_text(encoding="utf-8")).encode())
        return

    results, layer_cells, page = build_page(
        families or None, Path(work_dir), samples, calib_samples, layers,
        log=progress("·", "dim"), address=address, serial=serial, fresh=fresh)
    write_bytes(out_file, section_into(page).encode())
    family_cells = [cell for cells, _ in results.values() for cell in cells]
    stdout.print(f"{out_file}: families {count_summary(family_cells)}" +
                 (f"; layers {count_summary([c for c in layer_cells if c['status'] != '-'])}"
                  if layer_cells else ""))
