"""The `deploytool` command line: parses arguments, calls the API, prints. No work happens here."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from converters.targets import targets

from .errors import UserError
from .runtimes import artifact_runtimes

# Piped output gets the full table width instead of rich's 80-column default.
stdout = Console(width=None if sys.stdout.isatty() else 160)
stderr = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


class DeploytoolGroup(click.Group):
    """Turns every failure into one line on stderr: bad input or a failing disk exits 2, an
    interrupt 130, a bug 1.
    ``--debug`` lets the traceback through instead."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except UserError as exc:
            if ctx.params.get("debug"):
                raise
            click.echo(f"deploytool: error: {exc}", err=True)
            ctx.exit(2)
        except KeyboardInterrupt:
            click.echo("deploytool: interrupted; nothing half-written was left behind", err=True)
            ctx.exit(130)
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            if isinstance(exc, OSError) and exc.strerror:  # the machine: disk full, read-only
                where = f"{exc.filename}: " if exc.filename else ""
                click.echo(f"deploytool: error: {where}{exc.strerror}", err=True)
                ctx.exit(2)
            # a bug of ours: still one line unless --debug
            lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()] or [""]
            first_line = lines[-1] if lines[0].endswith(":") else lines[0]  # TF: "in user code:"
            click.echo(f"deploytool: internal error: {type(exc).__name__}: {first_line} "
                       "(run with --debug for the traceback)", err=True)
            ctx.exit(1)


def parse_shape(ctx, param, value):
    """Click callback: "224,224,3" -> (224, 224, 3)."""
    if value is None:
        return None
    try:
        shape = tuple(int(part) for part in value.replace("x", ",").split(","))
    except ValueError:
        raise click.BadParameter(f"expected HEIGHT,WIDTH,CHANNELS, got {value!r}") from None
    if len(shape) != 3 or min(shape) < 1:
        raise click.BadParameter(f"expected three positive sizes HEIGHT,WIDTH,CHANNELS, got {value!r}")
    return shape


def parse_floats(ctx, param, value):
    """Click callback: "123.675,116.28,103.53" -> (123.675, 116.28, 103.53)."""
    if value is None:
        return None
    try:
        return tuple(float(part) for part in value.split(","))
    except ValueError:
        raise click.BadParameter(f"expected numbers separated by commas, got {value!r}") from None


def preprocess_options(function):
    """The --preprocess/--mean/--std/--channel-order options: what input the model expects."""
    from .preprocessing import ALIASES, PRESETS

    presets = ", ".join(f"{name}" for name in [*PRESETS, *ALIASES])
    options = [
        click.option("--preprocess", "preset", metavar="PRESET",
                     help=f"The input the model expects: {presets} (default: 0..1, or what "
                          "a run folder recorded)."),
        click.option("--mean", callback=parse_floats, metavar="M[,M,M]",
                     help="Per-channel mean in pixel units (0..255), subtracted first."),
        click.option("--std", callback=parse_floats, metavar="S[,S,S]",
                     help="Per-channel std in pixel units (0..255), divided by after the mean."),
        click.option("--channel-order", type=click.Choice(["rgb", "bgr"], case_sensitive=False),
                     help="Colour channel order the model takes (caffe-style models: bgr)."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def preprocess_dict(preset, mean, std, channel_order) -> dict:
    """The preprocessing options as load_source takes them."""
    return {"preset": preset, "mean": mean, "std": std,
            "channel_order": channel_order.upper() if channel_order else None}


def diagnose_hint(failed_rows) -> str:
    """A pointer to `deploytool diagnose` when a quantized artifact failed on accuracy."""
    from .diagnose import needs_diagnosis

    names = sorted({row.artifact for row in failed_rows if needs_diagnosis(row.precision, row.failures)})
    return f"; see where with `deploytool diagnose {names[0]}`" if names else ""


def default_run_folder(model: str, data: str, suffix: str = "") -> str:
    """runs/MODEL-DATA[SUFFIX], with a folder data set's path flattened into the name."""
    name = data.replace("folder:", "").strip("/").replace("/", "_") or "data"
    return f"runs/{Path(model).name}-{name}{suffix}"


@click.group(cls=DeploytoolGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.version_option(package_name="deploytool")
def main(debug):
    """deploytool: classic CNNs from a Keras definition to a verified on-device model."""


@main.command("models")
@click.argument("names", nargs=-1)
@click.option("--input-shape", default="224,224,3", callback=parse_shape, show_default=True,
              help="HEIGHT,WIDTH,CHANNELS the figures are computed at.")
@click.option("--num-classes", default=1000, show_default=True, type=click.IntRange(min=1))
@click.option("--width", default=1.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Channel-width multiplier.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def models_command(names, input_shape, num_classes, width, as_json):
    """List the model zoo (or NAMES): parameters, MACs, BN layers to fold, training-only heads."""
    from .zoo import describe_zoo

    with stderr.status("building models") as status:
        rows = describe_zoo(names, input_shape, num_classes, width,
                            on_model=lambda name: status.update(f"building {name}"))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"deploytool model zoo at {'x'.join(map(str, input_shape))}, "
                        f"{num_classes} classes, width {width:g}")
    for column in ("model", "family", "params", "reference", "MACs", "BN to fold",
                   "training-only"):
        table.add_column(column, justify="right" if column in ("params", "reference", "MACs",
                                                               "BN to fold") else "left")
    for row in rows:
        reference = row["reference_params"]
        extras = [*row["training_only_outputs"]]
        if row["dropout_layers"]:
            extras.append(f"{row['dropout_layers']} dropout")
        table.add_row(row["name"], row["family"], f"{row['params']:,}",
                      f"{reference:,}" if reference else "-", f"{row['macs'] / 1e6:,.0f} M",
                      str(row["batchnorm_layers"]), ", ".join(extras) or "-")
    stdout.print(table)


@main.command("train")
@click.argument("model")
@click.option("--data", default="digits", show_default=True,
              help="digits (offline), mnist, fashion_mnist, or folder:PATH (one sub-folder per class).")
@click.option("--epochs", default=10, show_default=True, type=int)
@click.option("--batch-size", default=64, show_default=True, type=int)
@click.option("--learning-rate", type=float,
              help="Adam learning rate (default: the model's own, 1e-3; VGG-16 1e-4).")
@click.option("--input-shape", callback=parse_shape, help="HEIGHT,WIDTH,CHANNELS (default 28,28,1; 224,224,3 for folders).")
@click.option("--width", default=1.0, show_default=True, type=click.FloatRange(min=0, min_open=True))
@click.option("--mixed-precision", is_flag=True, help="float16 compute, float32 variables.")
@click.option("--early-stopping", type=int, metavar="PATIENCE", help="Stop after PATIENCE epochs without a better validation accuracy.")
@click.option("--resume", is_flag=True, help="Continue the unfinished run in --out.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Run folder (default runs/MODEL-DATA).")
@preprocess_options
def train_command(model, data, epochs, batch_size, learning_rate, input_shape, width,
                  mixed_precision, early_stopping, resume, seed, out_dir, preset, mean, std,
                  channel_order):
    """Train zoo MODEL on a data set; writes a run folder that convert and verify accept."""
    from .train import TrainOptions, train

    options = TrainOptions(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                           input_shape=input_shape, width=width, mixed_precision=mixed_precision,
                           early_stopping=early_stopping, resume=resume, seed=seed,
                           preprocess=preprocess_dict(preset, mean, std, channel_order))
    out_dir = out_dir or default_run_folder(model, data)
    try:
        metrics = train(model, data, out_dir, options, console=stderr)
    except KeyboardInterrupt:
        click.echo(f"deploytool: interrupted; continue with --resume --out {out_dir}", err=True)
        sys.exit(130)
    stdout.print(f"{out_dir}: test accuracy {metrics['test_accuracy']:.4f} on "
                 f"{metrics['test_images']} images, {metrics['wall_seconds']:.0f} s, "
                 f"{metrics['images_per_second']:.0f} images/s")


@main.command("convert")
@click.argument("model")
@click.option("--to", "to", type=click.Choice(list(targets())), default="tflite", show_default=True)
@click.option("--int8", "quantization", flag_value="int8", help="Full integer int8 (calibrated).")
@click.option("--fp16", "quantization", flag_value="fp16", help="Float16 weights (TFLite).")
@click.option("--dynamic", "quantization", flag_value="dynamic", help="Dynamic-range int8 weights (TFLite).")
@click.option("--int8-io", type=click.Choice(["int8", "float"]), default="int8", show_default=True,
              help="Input/output type of a full-int8 TFLite model.")
@click.option("--qat", is_flag=True, help="Quantization-aware fine-tuning (tfmot) before full-int8 TFLite export.")
@click.option("--qat-epochs", default=1, show_default=True, type=int)
@click.option("--weights", type=click.Path(dir_okay=False), help="Weights for a zoo model.")
@click.option("--out", "out_dir", default="artifacts", show_default=True, type=click.Path(file_okay=False))
@click.option("--calib-data", help="Calibration data: images:FOLDER (a plain folder of your images), a data set (digits, photos, mnist, folder:PATH) or a .npy of preprocessed images. Default: the run's data, else digits (grey models) or photos (colour).")
@click.option("--calib-samples", default=300, show_default=True, type=int)
@click.option("--opset", default=17, show_default=True, type=click.IntRange(11, 21), help="ONNX opset.")
@click.option("--nchw", is_flag=True, help="ONNX: take NCHW input (for runtimes that want it).")
@click.option("--no-fold", is_flag=True, help="Do not fold BatchNorm at the Keras level.")
@click.option("--keep-softmax", is_flag=True, help="Keep a final softmax in the artifact (default: output logits, softmax in post-processing).")
@click.option("--input-shape", default="224,224,3", callback=parse_shape, show_default=True,
              help="Zoo models: HEIGHT,WIDTH,CHANNELS.")
@click.option("--num-classes", default=1000, show_default=True, type=click.IntRange(min=1),
              help="Zoo models: classes.")
@click.option("--width", default=1.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Zoo models: channel-width multiplier.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--unsafe", is_flag=True, help="Allow model files whose Lambda/custom layers run code.")
@preprocess_options
@click.option("--max-drop", type=float, metavar="POINTS",
              help="int8 accuracy budget: at most this many top-1 points below float on held-out "
                   "labelled images (else other calibration, then layers kept in float).")
@click.option("--min-cosine", type=float, metavar="C",
              help="int8 accuracy budget without labels: worst-sample cosine at least C.")
@click.option("--min-agreement", type=float, metavar="F",
              help="With a budget: also the same top-1 decision as float on at least this fraction "
                   "of the held-out images.")
@click.option("--calibration-method", type=click.Choice(["minmax", "percentile", "entropy"]),
              default="minmax", show_default=True, help="int8 calibrator (percentile, entropy: ONNX).")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
def convert_command(model, to, quantization, int8_io, qat, qat_epochs, weights, out_dir, calib_data, calib_samples,
                    opset, nchw, no_fold, keep_softmax, input_shape, num_classes, width, seed, unsafe,
                    preset, mean, std, channel_order, max_drop, min_cosine, min_agreement, calibration_method,
                    as_json):
    """Convert MODEL (zoo name, run folder or model file) to TFLite or ONNX, with a manifest."""
    from .convert import ConvertOptions, convert
    from .sources import load_source

    options = ConvertOptions(to=to, quantization=quantization or ("int8" if qat else "none"),
                             int8_io=int8_io, qat=qat, qat_epochs=qat_epochs,
                             calib_data=calib_data, calib_samples=calib_samples, opset=opset,
                             nchw=nchw, fold=not no_fold, keep_softmax=keep_softmax,
                             out_dir=out_dir, seed=seed, calibration_method=calibration_method)
    options.check()
    budget = None
    if max_drop is not None or min_cosine is not None or min_agreement is not None:
        from .budget import Budget

        budget = Budget(max_drop, min_cosine, min_agreement)
        budget.check()
    source = load_source(model, weights=weights, input_shape=input_shape,
                         num_classes=num_classes, width=width, unsafe=unsafe, seed=seed,
                         preprocess=preprocess_dict(preset, mean, std, channel_order))
    log = lambda message: stderr.print(f"[dim]·[/dim] {message}")  # noqa: E731
    if budget is not None:
        from .budget import budgeted_convert

        result = budgeted_convert(source, options, budget, log)
    else:
        result = convert(source, options, log=log)
    if as_json:
        click.echo(json.dumps(result.manifest, indent=2))
        return
    entry = result.manifest
    parity = entry["parity"]
    figures = parity["figures"]
    table = Table(show_header=False, box=None)
    table.add_row("artifact", str(result.artifact))
    table.add_row("size", f"{entry['artifact']['size_bytes'] / 1e6:.2f} MB")
    table.add_row("sha256", entry["artifact"]["sha256"])
    table.add_row("conversion", f"{entry['conversion_seconds']:.1f} s")
    path = entry["conversion_path"]
    table.add_row("path", f"{path['framework']} ({path['exporter']})" +
                  (f"; not run: {', '.join(path['passes_skipped'])}" if path["passes_skipped"] else ""))
    table.add_row("input", entry["preprocessing"]["formula"])
    table.add_row("parity", f"{'pass' if parity['passed'] else 'FAIL'} on {figures['samples']} "
                            f"{parity['images']} images ({parity['runtime']}): max abs "
                            f"{figures['max_abs']:.2e}, cosine {figures['min_cosine']:.6f}, "
                            f"top-1 {figures['top1_agreement']:.3f}")
    if entry["qat_report"]:
        report = entry["qat_report"]
        table.add_row("accuracy", f"float {report['float_accuracy']:.4f}, QAT int8 "
                                  f"{report['qat_int8_accuracy']:.4f}, PTQ int8 after the same "
                                  f"fine-tuning {report['ptq_int8_accuracy_after_same_finetuning']:.4f}")
    if entry.get("budget"):
        budget_record = entry["budget"]
        floats = budget_record["layers_in_float"]
        table.add_row("budget", f"{'met' if budget_record['met'] else 'NOT met'} "
                                f"({budget_record['budget']}) by {budget_record['chosen']}" +
                      (f": {len(floats)} layer(s) in float, size {budget_record['size_cost']:+.0%}, "
                       f"latency {budget_record['latency_cost']:+.0%}" if floats else ""))
    table.add_row("manifest", str(result.artifact) + ".json")
    stdout.print(table)


@main.command("verify")
@click.argument("artifacts", nargs=-1, type=click.Path())
@click.option("--backend", type=click.Choice(["all", *artifact_runtimes()]), default="all",
              show_default=True)
@click.option("--data", help="Comparison images: images:FOLDER (unlabelled: parity only), folder:PATH or a data set (default: the model's own, else digits or photos).")
@click.option("--samples", default=64, show_default=True, type=int, help="Images compared.")
@click.option("--atol", type=float, help="Override: max abs error on probabilities.")
@click.option("--min-cosine", type=float, help="Override: minimum cosine similarity.")
@click.option("--min-top1", type=float, help="Override: minimum top-1 agreement.")
@click.option("--threads", default=2, show_default=True, type=click.IntRange(min=1))
@click.option("--timeout", default=300, show_default=True, type=click.FloatRange(min=1),
              help="Seconds each backend may take before it is killed.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify_command(artifacts, backend, data, samples, atol, min_cosine, min_top1, threads, timeout,
                   as_json):
    """Run ARTIFACTS (default: what `convert` wrote last) on TFLite, OpenCV dnn and ONNX Runtime
    and compare with the Keras reference. Exit 0 when all pass, 1 on a parity failure."""
    from .compare import Tolerance
    from .roundoff import ROUNDOFF_FACTOR
    from .verify import verify

    tolerance = None
    if any(v is not None for v in (atol, min_cosine, min_top1)):
        tolerance = Tolerance(atol, min_cosine, min_top1)
    report = verify(artifacts or None, backend, data, samples, tolerance, threads, timeout,
                    log=lambda message: stderr.print(f"[dim]· verifying {message}[/dim]"))
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        table = Table(title="deploytool verify: artifacts against their Keras reference")
        for column in ("artifact", "backend", "engine / layout", "result", "max abs", "cosine",
                       "top-1", "accuracy", "why"):
            table.add_column(column)
        for row in report.rows:
            f = row.figures or {}
            accuracy = (f"{f['accuracy']:.3f} (ref {f['accuracy_reference']:.3f})"
                        if "accuracy" in f else "-")
            style = {"pass": "green", "fail": "bold red", "n/a": "yellow"}[row.status]
            table.add_row(row.artifact, row.backend,
                          " / ".join(x for x in (row.engine, row.input_layout) if x) or "-",
                          f"[{style}]{row.status.upper()}[/{style}]",
                          f"{f['max_abs']:.2e}" if f else "-", f"{f['min_cosine']:.6f}" if f else "-",
                          f"{f['top1_agreement']:.3f}" if f else "-", accuracy,
                          "; ".join(row.failures) or "-")
        stdout.print(table)
        images = "; ".join(f"{name}: {d['samples']} {d['dataset']} test images"
                           for name, d in report.images.items())
        if images:
            stdout.print(f"compared on {images}")
        for name, used in report.tolerances.items():
            if used.get("reference_roundoff") is not None:
                stdout.print(f"{name}: fp32 bar max abs {used['max_abs']:.1e} = {ROUNDOFF_FACTOR:g} "
                             "x the Keras reference's own float32 round-off "
                             f"({used['reference_roundoff']:.1e}, measured against its float64 twin)")
    if not report.passed:
        failed = [row for row in report.rows if row.status == "fail"]
        first = failed[0]
        hint = diagnose_hint(failed)
        click.echo(f"deploytool: verify failed for {len(failed)} of {len(report.rows)} checks; first: "
                   f"{first.artifact} on {first.backend}: {'; '.join(first.failures)}{hint}", err=True)
        sys.exit(1)


@main.command("diagnose")
@click.argument("artifact", type=click.Path())
@click.option("--data", help="Images to compare on: images:FOLDER, folder:PATH or a data set "
                             "(default: the model's own, else digits or photos).")
@click.option("--samples", default=32, show_default=True, type=int, help="Images compared.")
@click.option("--top", default=3, show_default=True, type=click.IntRange(min=1),
              help="How many costliest layers to name.")
@click.option("--plot", type=click.Path(dir_okay=False), help="Write the error-against-depth plot (PNG).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def diagnose_command(artifact, data, samples, top, plot, as_json):
    """Where a quantized ARTIFACT loses accuracy: every quantized layer against its float self."""
    from .diagnose import diagnose, plot_errors
    from .quant_errors import costliest

    report = diagnose(artifact, data, samples,
                      log=lambda message: stderr.print(f"[dim]· {message}[/dim]"))
    report.worst = [row.name for row in costliest(report.rows, top)]
    if plot:
        plot_errors(report, plot)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    table = Table(title=f"deploytool diagnose: {report.artifact} ({report.format} {report.precision}), "
                        f"{report.images['samples']} {report.images['dataset']} images")
    for column in ("#", "layer", "op", "scale", "own SNR", "own worst ch.", "accum. SNR",
                   "accum. cosine", "problem"):
        table.add_column(column, justify="right" if column in ("#", "scale") or "SNR" in column
                         or "cosine" in column or "ch." in column else "left")
    for row in report.rows:
        mark = "[bold red]" if row.name in report.worst else ""
        end = "[/bold red]" if mark else ""
        table.add_row(str(row.depth), f"{mark}{row.name[:60]}{end}", row.op,
                      f"{row.scale:.3g}" if row.scale else "-",
                      f"{row.own_snr_db:.1f} dB" if row.scale else "-",
                      f"{row.own_worst_channel_snr_db:.1f} dB" if row.scale else "-",
                      f"{row.accumulated_snr_db:.1f} dB", f"{row.accumulated_cosine:.4f}",
                      "; ".join(row.problems) or "-")
    stdout.print(table)
    for rank, name in enumerate(report.worst, 1):
        row = next(r for r in report.rows if r.name == name)
        stdout.print(f"{rank}. {name} ({row.op}): own SNR {row.own_snr_db:.1f} dB"
                     + (f" - {row.problems[0]}" if row.problems else ""))
    stdout.print(f"{report.summary()} ({report.seconds:.0f} s)")


@main.command("bundle")
@click.argument("artifact", required=False, type=click.Path())
@click.option("--app", default="android_demo", show_default=True, type=click.Path(file_okay=False),
              help="The Android demo app project; the bundle goes to app/src/main/assets/bundle.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Write the bundle folder here instead of into --app.")
@click.option("--samples", default=4, show_default=True, type=int, help="Golden samples for the app's self-test.")
@click.option("--labels", "labels_file", type=click.Path(dir_okay=False),
              help="Labels, one per line (default: the manifest's).")
@click.option("--data", help="Data set for the golden samples (default: the model's own, else digits).")
@click.option("--json", "as_json", is_flag=True, help="Print the bundle's file list as JSON.")
def bundle_command(artifact, app, out_dir, samples, labels_file, data, as_json):
    """Bundle a .tflite ARTIFACT (default: the last converted) into the Android demo app."""
    from .bundle import bundle

    report = bundle(artifact, out_dir, app, samples, labels_file, data)
    if as_json:
        click.echo(json.dumps(asdict(report), indent=2))
        return
    table = Table(title=f"deploytool bundle: {report.destination}")
    for column in ("file", "size", "sha256"):
        table.add_column(column)
    for name, entry in report.files.items():
        table.add_row(name, f"{entry['size_bytes']:,} B", entry["sha256"][:16])
    stdout.print(table)
    expected = ", ".join(s["expected_top1"] for s in report.samples)
    stdout.print(f"{len(report.samples)} golden samples (expected top-1: {expected}); the app's "
                 f"self-test allows max abs {report.tolerance:.3g}")


@main.command("matrix")
@click.argument("names", nargs=-1)
@click.option("--out", "out_file", default="docs/compatibility.md", show_default=True,
              type=click.Path(dir_okay=False),
              help="The Markdown page; the JSON and the heatmap (.png) go beside it.")
@click.option("--random", "random_weights", is_flag=True,
              help="Quicker: random weights, parity only (no training, accuracy or latency).")
@click.option("--epochs", default=30, show_default=True, type=click.IntRange(min=1),
              help="Most training epochs on digits per model (stops 5 epochs after the best).")
@click.option("--input-shape", default="32,32,3", callback=parse_shape, show_default=True,
              help="Input of the random-weight models (trained ones take 28x28x1 digits).")
@click.option("--width", default=0.25, show_default=True, type=click.FloatRange(min=0, min_open=True))
@click.option("--samples", type=click.IntRange(min=1),
              help="Held-out images verified (default: all 360 trained, 32 random).")
@click.option("--artifacts", "artifact_dir", default="artifacts/matrix", show_default=True,
              type=click.Path(file_okay=False), help="Work folder: run folders, artifacts, cached cells.")
@click.option("--fresh", is_flag=True, help="Forget the cached cells of an earlier run.")
def matrix_command(names, out_file, random_weights, epochs, input_shape, width, samples,
                   artifact_dir, fresh):
    """Regenerate the deployability matrix: zoo models (or NAMES) x artifact kinds x runtimes,
    trained on digits, with accuracy, latency, size and phone-GPU readiness in every cell."""
    from .fileio import write_bytes

    if random_weights:
        from .matrix import build_matrix

        cells, markdown = build_matrix(names or None, input_shape, width, artifact_dir, samples or 32,
                                       log=lambda message: stderr.print(f"[dim]· {message}[/dim]"))
        write_bytes(out_file, markdown.encode())
        written = [out_file]
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from .matrix_trained import SAMPLES, build_trained_matrix, write_outputs

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=stderr) as bar:
            task = bar.add_task("matrix", total=len(names) or None)

            def progress(done, total, model):
                bar.update(task, completed=done, total=total,
                           description=f"matrix: {model}" if model else "matrix")

            import time

            started = time.perf_counter()
            reused = fresh is False and any((Path(artifact_dir) / "cells").glob("*.json"))
            results = build_trained_matrix(
                names or None, Path(artifact_dir), epochs, width, samples or SAMPLES, fresh,
                log=lambda message: bar.console.print(f"[dim]· {message}[/dim]"), progress=progress)
        wall = None if reused else time.perf_counter() - started
        written = write_outputs(results, out_file, epochs, width, samples or SAMPLES, wall)
        cells = [cell for result in results.values() for cell in result["cells"]]
    passed = sum(c["status"] == "pass" for c in cells)
    failed = sum(c["status"] == "fail" for c in cells)
    stdout.print(f"{', '.join(map(str, written))}: {passed} cells pass, {failed} fail "
                 "(each with its cause)")


@main.command("own-models")
@click.argument("families", nargs=-1)
@click.option("--out", "out_file", default="docs/own-models.md", show_default=True,
              type=click.Path(dir_okay=False))
@click.option("--work", "work_dir", default="artifacts/own-models", show_default=True,
              type=click.Path(file_okay=False), help="Model files and artifacts (reused on a rerun).")
@click.option("--layers/--no-layers", default=True, show_default=True,
              help="Also build and check one tiny model per built-in layer.")
@click.option("--samples", default=32, show_default=True, type=click.IntRange(min=1))
@click.option("--calib-samples", default=100, show_default=True, type=click.IntRange(min=1))
@click.option("--shard", default="1/1", show_default=True, metavar="K/N",
              help="Compute every N-th model from the K-th (N processes share the work; each "
                   "model's cells are cached in --work, the last shard renders the page).")
@click.option("--fresh", is_flag=True, help="Forget the cached cells of an earlier run.")
def own_models_command(families, out_file, work_dir, layers, samples, calib_samples, shard, fresh):
    """Regenerate docs/own-models.md: keras.applications FAMILIES (default: all fourteen) saved
    by Keras 3, and one tiny model per built-in layer, converted and verified as a user's files."""
    from .fileio import write_bytes
    from .matrix import count_summary
    from .own_models import build_page

    try:
        index, count = (int(part) for part in shard.split("/"))
    except ValueError:
        raise click.BadParameter(f"expected K/N, got {shard!r}", param_hint="--shard") from None
    results, layer_cells, page = build_page(
        families or None, Path(work_dir), samples, calib_samples, layers,
        log=lambda message: stderr.print(f"[dim]· {message}[/dim]"), shard=(index, count),
        fresh=fresh)
    write_bytes(out_file, page.encode())
    family_cells = [cell for cells, _ in results.values() for cell in cells]
    stdout.print(f"{out_file}: families {count_summary(family_cells)}" +
                 (f"; layers {count_summary([c for c in layer_cells if c['status'] != '-'])}"
                  if layer_cells else ""))


@main.command("inspect")
@click.argument("file", type=click.Path())
@click.option("--unsafe", is_flag=True, help="Allow Keras files whose Lambda/custom layers run code.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def inspect_command(file, unsafe, as_json):
    """Show what is inside a .tflite, .onnx or Keras FILE: tensors, ops, weights, manifest."""
    from .inspect_model import inspect_file

    report = inspect_file(file, unsafe)
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
    else:
        print_inspection(report)
    if report.get("integrity") not in (None, "ok"):
        click.echo(f"deploytool: {report['file']}: {report['integrity']}", err=True)
        sys.exit(1)


def print_inspection(report: dict) -> None:
    """The human-readable form of an inspect report."""
    saved_by = f" saved by {report['saved_by']}" if report.get("saved_by") else ""
    stdout.print(f"[bold]{report['file']}[/bold]: {report['format']}{saved_by}, "
                 f"{report['size_bytes'] / 1e6:.2f} MB")
    tensors = Table(title="inputs and outputs")
    for column in ("", "name", "shape", "dtype", "scale", "zero point"):
        tensors.add_column(column)
    for kind in ("inputs", "outputs"):
        for tensor in report[kind]:
            quant = tensor.get("quantization") or {}
            tensors.add_row(kind[:-1], tensor["name"], str(tensor["shape"]), tensor["dtype"],
                            str(quant.get("scale", "-")), str(quant.get("zero_point", "-")))
    stdout.print(tensors)
    ops = Table(title="ops" if report["format"] != "keras" else "layers")
    ops.add_column("op")
    ops.add_column("count", justify="right")
    for op, count in report["ops"].items():
        ops.add_row(op, str(count))
    stdout.print(ops)
    weights = ", ".join(f"{dtype} {size / 1e6:.2f} MB" for dtype, size in report["weight_bytes"].items())
    stdout.print(f"weights: {weights or 'none'}")
    if report.get("gpu") is not None:
        from .gpu_readiness import describe

        stdout.print(f"phone GPU (LiteRT GPU delegate): {describe(report['gpu'])}")
    if report.get("manifest"):
        manifest = report["manifest"]
        source = manifest.get("source") or {}
        parity = manifest.get("parity") or {}
        stdout.print(f"manifest: from {source.get('name') or source.get('path')}, "
                     f"{(manifest.get('settings') or {}).get('precision')}, sha256 "
                     f"{str((manifest.get('artifact') or {}).get('sha256'))[:16]}..., "
                     f"parity {'pass' if parity.get('passed') else 'FAIL'}, file {report['integrity']}")


@main.command("bench")
@click.argument("artifacts", nargs=-1, type=click.Path())
@click.option("--backend", type=click.Choice(["all", *artifact_runtimes()]), default="all",
              show_default=True)
@click.option("--threads", default=2, show_default=True, type=click.IntRange(min=1))
@click.option("--batch", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--runs", default=30, show_default=True, type=click.IntRange(min=1))
@click.option("--warmup", default=5, show_default=True, type=click.IntRange(min=0))
@click.option("--timeout", default=600, show_default=True, type=click.FloatRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--plot", type=click.Path(dir_okay=False), help="Write a latency bar chart (PNG).")
def bench_command(artifacts, backend, threads, batch, runs, warmup, timeout, as_json, plot):
    """Latency, throughput, peak memory and size of ARTIFACTS (default: what `convert` wrote last)
    on each runtime, with the Keras model as the baseline."""
    from .bench import bench, plot_latency, rows_as_dicts

    rows = bench(artifacts or None, backend, threads, batch, runs, warmup, timeout,
                 log=lambda message: stderr.print(f"[dim]· timing {message}[/dim]"))
    if plot:
        plot_latency(rows, plot)
    if as_json:
        click.echo(json.dumps(rows_as_dicts(rows), indent=2))
        return
    table = Table(title=f"deploytool bench: {threads} threads, batch {batch}, median of {runs} runs")
    for column in ("artifact", "runtime", "size", "median", "p90", "images/s", "peak memory"):
        table.add_column(column, justify="left" if column in ("artifact", "runtime") else "right")
    for row in rows:
        if row.status != "ok":
            table.add_row(row.artifact, row.backend, f"{row.size_bytes / 1e6:.2f} MB",
                          f"[red]{row.error}[/red]", "", "", "")
            continue
        table.add_row(row.artifact, row.backend + (f" ({row.engine})" if row.engine else ""),
                      f"{row.size_bytes / 1e6:.2f} MB", f"{row.median_ms:.2f} ms", f"{row.p90_ms:.2f} ms",
                      f"{row.images_per_second:.1f}",
                      f"{row.peak_memory_mb:.0f} MB" if row.peak_memory_mb else "-")
    stdout.print(table)


@main.command("run")
@click.argument("model")
@click.option("--data", default="digits", show_default=True, help="Data set to train and verify on.")
@click.option("--epochs", default=10, show_default=True, type=int)
@click.option("--batch-size", default=64, show_default=True, type=int)
@click.option("--input-shape", callback=parse_shape, help="HEIGHT,WIDTH,CHANNELS for training.")
@click.option("--width", default=1.0, show_default=True, type=click.FloatRange(min=0, min_open=True))
@click.option("--weights", type=click.Path(dir_okay=False), help="Use these weights instead of training.")
@click.option("--samples", default=64, show_default=True, type=click.IntRange(min=1), help="Images verified.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Run folder (default runs/MODEL-DATA-pipeline).")
@click.option("--app", type=click.Path(file_okay=False),
              help="Bundle the int8 .tflite into this Android demo app (default: into the run folder).")
@preprocess_options
def run_command(model, data, epochs, batch_size, input_shape, width, weights, samples, out_dir, app,
                preset, mean, std, channel_order):
    """The whole job: train -> fold -> quantize -> export -> verify on every runtime -> bench ->
    bundle for Android -> report. Run it again to resume after an interruption."""
    from .pipeline import PipelineParityError, run_pipeline
    from .train import TrainOptions

    out_dir = out_dir or default_run_folder(model, data, "-pipeline")
    failure = None
    options = TrainOptions(epochs=epochs, batch_size=batch_size, input_shape=input_shape, width=width,
                           preprocess=preprocess_dict(preset, mean, std, channel_order))
    try:
        report = run_pipeline(model, data, out_dir, options, weights=weights, samples=samples, app=app,
                              log=lambda message: stderr.print(f"[bold]▸[/bold] {message}"))
    except PipelineParityError as exc:
        failure, report = exc, exc.report
    print_run_summary(Path(out_dir))
    if failure is not None:
        click.echo(f"deploytool: {failure}", err=True)
        sys.exit(1)
    stdout.print(f"report: {report}")


def print_run_summary(folder: Path) -> None:
    """The run's summary table: artifact, runtime, pass, accuracy, latency."""
    from .pipeline import summary_rows

    table = Table(title=f"deploytool run: {folder}")
    for column in ("artifact", "runtime", "pass", "accuracy", "ms (batch 1)"):
        table.add_column(column, justify="right" if column in ("accuracy", "ms (batch 1)") else "left")
    for row in summary_rows(folder):
        table.add_row(row["artifact"], row["runtime"],
                      {"pass": "[green]pass[/green]", "fail": "[red]fail[/red]"}.get(
                          row["status"], row["status"]),
                      f"{row['accuracy']:.4f}" if row["accuracy"] is not None else "-",
                      f"{row['median_ms']:.3g}" if row["median_ms"] is not None else "-")
    stdout.print(table)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
