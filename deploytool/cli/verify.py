"""`deploytool verify`: every artifact on every runtime against its Keras reference."""

from __future__ import annotations

import json
import sys

import click

from deploytool.cli.help_texts import example, runtimes_text
from deploytool.cli.main import main
from deploytool.cli.options import backend_option, dataset_name, json_option
from deploytool.cli.tables import print_table, progress, status, stdout
from deploytool.runtimes.base import DEFAULT_THREADS
from deploytool.runtimes.isolation import DEFAULT_TIMEOUT
from deploytool.workflows.verification.verify import DEFAULT_SAMPLES


@main.command("verify", epilog=example("verify"), help=(
    f"Run ARTIFACTS (default: what `convert` wrote last) on {runtimes_text()}, each output "
    "compared with the Keras reference. Exit 0 when all pass, 1 on a parity failure."))
@click.argument("artifacts", nargs=-1, type=click.Path())
@backend_option
@click.option("--data", callback=dataset_name, help="Comparison images: images:FOLDER (unlabelled: parity only), folder:PATH or a data set (default: the model's own, else digits or photos).")
@click.option("--samples", default=DEFAULT_SAMPLES, show_default=True, type=int, help="Images compared.")
@click.option("--atol", type=float, help="Override: max abs error on probabilities.")
@click.option("--min-cosine", type=float, help="Override: minimum cosine similarity.")
@click.option("--min-top1", type=float, help="Override: minimum top-1 agreement.")
@click.option("--threads", default=DEFAULT_THREADS, show_default=True, type=click.IntRange(min=1))
@click.option("--timeout", default=DEFAULT_TIMEOUT, show_default=True, type=click.FloatRange(min=1),
              help="Seconds each backend may take before it is killed.")
@json_option("the report as JSON")
def verify_command(artifacts, backend, data, samples, atol, min_cosine, min_top1, threads, timeout,
                   as_json):
    """Run ARTIFACTS on every runtime that reads them and compare with the Keras reference
    (help: the registry's runtimes)."""
    from deploytool.core.compare import Tolerance
    from deploytool.core.roundoff import ROUNDOFF_FACTOR
    from deploytool.workflows.verification.verify import verify

    tolerance = None
    if any(v is not None for v in (atol, min_cosine, min_top1)):
        tolerance = Tolerance(atol, min_cosine, min_top1)
    report = verify(artifacts or None, backend, data, samples, tolerance, threads, timeout,
                    log=progress("· verifying", "dim"))
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        print_table("deploytool verify: artifacts against their Keras reference",
                    ("artifact", "output (kind)", "backend", "engine / layout", "result", "max abs",
                     "cosine", "agreement", "accuracy", "why"), map(verify_cells, report.rows))
        images = "; ".join(f"{name}: {d['samples']} {d['dataset']} test images"
                           for name, d in report.images.items())
        if images:
            stdout.print(f"compared on {images}")
        for note in dict.fromkeys([*(d["labels_unmatched"] for d in report.images.values()
                                     if "labels_unmatched" in d),
                                   *(note for d in report.images.values()
                                     for note in d.get("notes", []))]):
            stdout.print(note)
        judged_by_decisions = sorted(name for name, used in report.tolerances.items()
                                     if used.get("min_cosine") is None and
                                     used.get("min_top1_agreement") is not None)
        if judged_by_decisions:
            stdout.print(f"{', '.join(judged_by_decisions)}: a trained model's reduced-precision "
                         "artifact, judged by its decisions (top-1 agreement, or an output's "
                         "neighbours, pixels or error against its range); the cosine is shown, "
                         "not judged (--min-cosine C judges it)")
        for name, used in report.tolerances.items():
            if used.get("reference_roundoff") is not None:
                stdout.print(f"{name}: fp32 bar max abs {used['max_abs']:.1e} = {ROUNDOFF_FACTOR:g} "
                             "x the Keras reference's own float32 round-off "
                             f"({used['reference_roundoff']:.1e}, measured against its float64 twin)")
    if not report.passed:
        failed = [row for row in report.rows if row.status == "fail"]
        first = failed[0]
        click.echo(f"deploytool: verify failed for {len(failed)} of {len(report.rows)} checks; first: "
                   f"{first.artifact} on {first.backend}"
                   + (f", output {first.output}" if first.output else "")
                   + f": {'; '.join(first.failures)}"
                   f"{diagnose_hint(failed)}", err=True)
        sys.exit(1)


def verify_cells(row) -> tuple[str, ...]:
    """One verify row as table cells."""
    f = row.figures or {}
    accuracy = f"{f['accuracy']:.3f} (ref {f['accuracy_reference']:.3f})" if "accuracy" in f else "-"
    if "accuracy_change_interval" in f:
        low, high = (100 * bound for bound in f["accuracy_change_interval"])
        accuracy += f"; change 95 %: {low:+.1f} to {high:+.1f} points"
    output = f"{row.output} ({row.kind})" if row.output else "-"
    return (row.artifact, output, row.backend,
            " / ".join(x for x in (row.engine, row.input_layout) if x) or "-", status(row.status),
            f"{f['max_abs']:.2e}" if f else "-", f"{f['min_cosine']:.6f}" if f else "-",
            agreement_cell(f), accuracy, "; ".join(row.failures + row.notes) or "-")


def agreement_cell(figures: dict) -> str:
    """The figure an output's kind is judged by beyond the error: top-1 agreement of class
    scores, the error relative to a regression's range, an embedding's nearest-neighbour and a
    map's per-pixel agreement; an agreement over images with its 95 % interval."""
    for key, label, form in (("top1_agreement", "top-1", "{:.3f}"),
                             ("relative_error", "of range", "{:.2%}"),
                             ("neighbour_agreement", "neighbours", "{:.3f}"),
                             ("pixel_agreement", "pixels", "{:.3f}")):
        if key in figures:
            interval = figures.get(f"{key}_interval")
            sure = f" (95 %: {interval[0]:.3f}-{interval[1]:.3f})" if interval else ""
            cell = f"{form.format(figures[key])} {label}{sure}"
            if "decision" in figures:  # one score per image, decided over a threshold
                cell = (f"{cell.replace('top-1', 'decision ' + figures['decision'])}; "
                        f"{figures['relative_error']:.2%} of range")
            return cell
    return "-"


def diagnose_hint(failed_rows) -> str:
    """A pointer to `deploytool diagnose` when a quantized artifact failed on accuracy."""
    from deploytool.workflows.quantization.diagnose import needs_diagnosis

    names = sorted({row.artifact for row in failed_rows if needs_diagnosis(row.precision, row.failed)})
    return f"; see where with `deploytool diagnose {names[0]}`" if names else ""
