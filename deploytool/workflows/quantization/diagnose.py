"""`deploytool diagnose`: where a quantized artifact loses accuracy, layer by layer.

The artifact's float twin is rebuilt from its manifest (the same reference model through the same
passes, exported in float32 by the same target); both run on the verification images with every
intermediate tensor kept, and each quantized activation is compared with its float self
(:mod:`deploytool.core.quant_errors`): the error the layer adds by its own quantization, the error
accumulated so far, and what kind of problem it looks like.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from deploytool.converters.options import ConvertOptions
from deploytool.converters.targets.registry import target
from deploytool.core.compare import figures_only
from deploytool.core.errors import UserError
from deploytool.core.manifest import Manifest
from deploytool.core.quant_errors import LayerError, costliest, layer_errors
from deploytool.workflows.artifacts import manifest_of, verification_images

DEFAULT_SAMPLES = 32
# An SNR at or above this is healthy: Qualcomm AI Hub calls on-device outputs "good" above 30 dB,
# and a layer's own int8 rounding alone lands at 35-46 dB on the trained zoo.
HEALTHY_SNR_DB = 30.0


@dataclass
class DiagnoseReport:
    """Every quantized layer's figures, the costliest first-named, and what was compared."""

    artifact: str
    format: str
    precision: str
    images: dict
    rows: list[LayerError]
    seconds: float = 0.0
    worst: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)  # quantized tensors with no float twin

    def as_dict(self) -> dict:
        """Plain-JSON form."""
        return {"artifact": self.artifact, "format": self.format, "precision": self.precision,
                "images": self.images, "seconds": round(self.seconds, 2), "costliest": self.worst,
                "layers": [row.as_dict() for row in self.rows], "unmatched": self.unmatched}

    def healthy(self) -> bool:
        """Every layer's own error and the final output at or above :data:`HEALTHY_SNR_DB`."""
        return bool(self.rows) and self.rows[-1].accumulated_snr_db >= HEALTHY_SNR_DB and \
            all(row.own_snr_db >= HEALTHY_SNR_DB for row in self.rows if row.scale)

    def verdict(self) -> str:
        """In a few words: nothing to fix, or where to look."""
        if not self.rows:
            return "no quantized layer to diagnose"
        final = self.rows[-1]
        if self.healthy():
            return (f"nothing to fix: every layer's own error and the final output at or above "
                    f"{HEALTHY_SNR_DB:g} dB (final {final.accumulated_snr_db:.1f} dB)")
        return (f"final output {final.accumulated_snr_db:.1f} dB; look first at "
                f"{self.worst[0]}" if self.worst else f"final output {final.accumulated_snr_db:.1f} dB")

    def summary(self) -> str:
        """One line naming the costliest layer and its problem, or that nothing needs fixing."""
        if not self.rows:
            return f"{self.artifact}: no quantized layer to diagnose"
        if self.healthy():
            return f"{self.artifact}: {self.verdict()}"
        worst = next(row for row in self.rows if row.name == self.worst[0])
        problem = f": {worst.problems[0]}" if worst.problems else ""
        return (f"costliest layer {worst.name} ({worst.op}), own SNR {worst.own_snr_db:.1f} dB"
                f"{problem}; final output {self.rows[-1].accumulated_snr_db:.1f} dB, cosine "
                f"{self.rows[-1].accumulated_cosine:.4f}")


def needs_diagnosis(precision: str, failed: list[str]) -> bool:
    """Whether a failed check (``failed``: a verify row's failed criteria) is a quantized
    artifact losing accuracy (what diagnose explains), not an error."""
    return precision != "fp32" and figures_only(failed)


def float_twin(manifest: Manifest, options: ConvertOptions,
               log=lambda message: None) -> tuple[object, bytes]:
    """The export model of ``manifest``'s artifact, rebuilt from its reference through the same
    passes as ``options`` (its settings record) say, and its float32 artifact from the same
    target."""
    from deploytool.sources.model_source import load_source
    from deploytool.workflows.conversion.convert import prepare

    from deploytool.core.model_outputs import output_names

    source = load_source(str(manifest.reference))
    # a saved reference already lacks the outputs the conversion dropped (it is the stripped
    # model); a SavedModel's signature still has them
    still = [name for name in options.drop_outputs if name in output_names(source.model)]
    float_options = replace(options, precision="fp32", qat=False, keep_float=[], drop_outputs=still,
                            keep_softmax=not options.detaches_softmax)  # the artifact's graph
    source.preprocessing = manifest.preprocessing
    # the artifact's own format rewrites (an older artifact recorded none, and had none)
    rewritten = options if manifest.target_rewrites else float_options
    prepared = prepare(source, float_options, None, log, rewrites_of=rewritten)
    exported = target(options.to).export(prepared.export_model, "fp32", None, float_options)
    return prepared.export_model, exported.data


def diagnose(artifact, data: str | None = None, samples: int = DEFAULT_SAMPLES,
             log=lambda message: None, float_artifact: bytes | None = None) -> DiagnoseReport:
    """Diagnose the quantized ``artifact`` (int8, or fp16/dynamic where the format has them) on
    ``samples`` verification images of ``data`` (default: the manifest's own), against
    ``float_artifact`` (the float model it was quantized from, as a budget search holds it) or,
    when None, its float twin rebuilt from the manifest."""
    started = time.perf_counter()
    manifest = manifest_of(artifact)
    if manifest.precision == "fp32":
        raise UserError(f"{artifact}: a float32 artifact has no quantization to diagnose; "
                        "diagnose its int8 (or fp16, dynamic) form")
    if samples < 1:
        raise UserError(f"--samples must be at least 1, got {samples}")
    images, _, description = verification_images(manifest, data, samples)
    options = ConvertOptions.from_record(manifest.settings)
    if float_artifact is None:
        log(f"rebuilding the float twin of {Path(artifact).name}")
        _, float_artifact = float_twin(manifest, options, log)
    log(f"comparing every quantized layer on {len(images)} {description['dataset']} images")
    tensors, unmatched = target(options.to).activations(
        float_artifact, Path(artifact).read_bytes(), images, options)
    if unmatched:
        log(f"{len(unmatched)} quantized tensor(s) have no twin in the rebuilt float model and "
            f"are not compared: {', '.join(unmatched[:3])}{', ...' if len(unmatched) > 3 else ''}")
    rows = layer_errors(tensors)
    return DiagnoseReport(Path(artifact).name, manifest.format, manifest.precision, description,
                          rows, time.perf_counter() - started,
                          [row.name for row in costliest(rows)], unmatched)


def plot_errors(report: DiagnoseReport, path) -> None:
    """Accumulated and own SNR against depth on a fixed scale (0 dB up, so a few dB between
    healthy layers do not look dramatic), the healthy band (>= :data:`HEALTHY_SNR_DB`) shaded,
    the costliest layers numbered on the plot and named in full below it, and the verdict in the
    title, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    depth = [row.depth for row in report.rows]
    worst = [next(r for r in report.rows if r.name == name) for name in report.worst]
    figure, axis = plt.subplots(figsize=(10, 4.8 + 0.22 * len(worst)))
    highest = max([HEALTHY_SNR_DB + 20, *(value for row in report.rows for value in
                                          (row.accumulated_snr_db, row.own_snr_db)
                                          if value < float("inf"))])
    axis.axhspan(HEALTHY_SNR_DB, highest + 5, color="tab:green", alpha=0.08,
                 label=f"healthy (>= {HEALTHY_SNR_DB:g} dB)")
    axis.plot(depth, [min(row.accumulated_snr_db, highest) for row in report.rows], "-o",
              markersize=3, label="accumulated (quantized model vs float)")
    quantized = [row for row in report.rows if row.scale]
    axis.plot([row.depth for row in quantized], [min(row.own_snr_db, highest) for row in quantized],
              "s", markersize=3, alpha=0.6, label="own (this layer's quantization alone)")
    for number, row in enumerate(worst, 1):
        value = row.own_snr_db if row.scale else row.accumulated_snr_db
        axis.annotate(str(number), (row.depth, min(value, highest)), textcoords="offset points",
                      xytext=(4, -12), fontsize=8, color="tab:red", weight="bold")
    axis.set(xlabel="layer (execution order)", ylabel="SNR (dB, higher is better)",
             ylim=(0, highest + 5), title=f"deploytool diagnose: {report.artifact}\n{report.verdict()}")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, loc="lower left")
    names = "\n".join(f"{number}. {row.name} ({row.op}): own {row.own_snr_db:.1f} dB"
                      + (f", {row.problems[0]}" if row.problems else "")
                      for number, row in enumerate(worst, 1))
    if names:
        figure.text(0.01, 0.01, "costliest layers, full names:\n" + names, fontsize=7,
                    va="bottom", family="monospace")
    figure.tight_layout(rect=(0, 0.04 + 0.035 * len(worst) if worst else 0, 1, 1))
    figure.savefig(path, dpi=100)
    plt.close(figure)
