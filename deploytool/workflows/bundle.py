"""`deploytool bundle`: a converted .tflite, its labels, preprocessing record and golden samples,
laid out for the Android demo app (android_demo/app/src/main/assets/bundle/).

The golden samples are PNGs with the input bytes Python made from them and the outputs the
phone's runtime gives on those bytes: the app's LiteRT version on an emulated ARM64 core (x86
LiteRT's outputs compared with them value for value), or x86 LiteRT where the ARM64 environment is
not installed, said in the report. The app's self-test preprocesses the PNGs with its Java core
and runs them through the phone's interpreter, so a user can prove on the phone that the deployed
model computes what `deploytool verify` measured. bundle.properties names the LiteRT version
those outputs came from, and the app's build.gradle takes its LiteRT dependency from there: the
version is written once, in :data:`deploytool.core.environments.PHONE_LITERT_VERSION`.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from deploytool.core.compare import decisions
from deploytool.core.environments import PHONE_LITERT_VERSION
from deploytool.core.errors import UserError
from deploytool.core.fileio import atomic_path, sha256_file, write_json
from deploytool.core.manifest import integrity_failures, last_converted, now, tool_versions
from deploytool.core.preprocessing import Preprocessing
from deploytool.core.tensors import TensorInfo, quantize
from deploytool.runtimes.isolation import DEFAULT_TIMEOUT, run_isolated
from deploytool.sources.labels import read_labels
from deploytool.workflows.artifacts import manifest_of, reference_samples

FORMAT = "deploytool-bundle/1"
APP_ASSETS = Path("app") / "src" / "main" / "assets"
FOLDER = "bundle"
MODEL_FILE = "model.tflite"
LABELS_FILE = "labels.txt"
APP_DTYPES = ("float32", "int8", "uint8")
DEFAULT_SAMPLES = 4


@dataclass
class BundleReport:
    """Where the bundle went and what it holds."""

    destination: str
    artifact: str
    files: dict  # name -> {"size_bytes", "sha256"}
    samples: list  # per golden sample: image, label, expected top-1 label
    tolerance: float
    runtime: str = "tflite"  # the runtime the expected outputs came from
    agreement: list | None = None  # those outputs against x86 LiteRT's, by output
    notes: list = field(default_factory=list)

    @property
    def size_bytes(self) -> int:
        """Total size of the bundle's files."""
        return sum(f["size_bytes"] for f in self.files.values())


def app_bundle_folder(app) -> Path:
    """The bundle folder inside an Android app project; refuses a folder that is not one."""
    app = Path(app)
    if not (app / "app" / "src" / "main" / "AndroidManifest.xml").is_file():
        raise UserError(f"{app}: not the Android demo app (no app/src/main/AndroidManifest.xml)")
    return app / APP_ASSETS / FOLDER


def default_artifact() -> Path:
    """The .tflite that `deploytool convert` wrote last."""
    tflites = [a for a in last_converted() if a.suffix.lower() == ".tflite"]
    if not tflites:
        raise UserError("the last conversion wrote no .tflite; name the artifact or run "
                        "`deploytool convert MODEL --to tflite` first")
    return tflites[-1]


def decision_threshold_of(manifest) -> float | None:
    """Where a model with one score per image (a binary head) decides, as convert's parity check
    judged it on the reference's values ("over 0.5" for a probability, "over 0" for a logit);
    None for class scores."""
    outputs = (manifest.parity or {}).get("outputs") or []
    threshold = (outputs[0].get("figures") or {}).get("decision_threshold") \
        if len(outputs) == 1 else None
    return None if threshold is None else float(threshold)


def check_fits_app(inputs: list, outputs: list, preprocessing: Preprocessing, labels: list,
                   threshold: float | None = None) -> None:
    """Refuse a model the app cannot run: one NHWC image input of the preprocessing's size with 1
    or 3 channels, one (batch, classes) output, a label per class (two for one score deciding over
    ``threshold``), types the app handles."""
    if len(inputs) != 1 or len(outputs) != 1:
        raise UserError(f"the app runs models with one input and one output; this one has "
                        f"{len(inputs)} inputs and {len(outputs)} outputs")
    shape, out_shape = list(inputs[0]["shape"]), list(outputs[0]["shape"])
    if len(shape) != 4 or shape[0] not in (None, 1) or shape[3] not in (1, 3):
        raise UserError(f"the app needs an image input (1, height, width, 1 or 3); the model's "
                        f"input is {tuple(shape)}")
    if tuple(shape[1:]) != preprocessing.input_shape:
        raise UserError(f"the model's input {tuple(shape)} does not match its preprocessing record "
                        f"{preprocessing.input_shape}")
    if len(out_shape) != 2 or out_shape[0] not in (None, 1):
        raise UserError(f"the app needs an output of class scores (1, classes); the model's output "
                        f"is {tuple(out_shape)}")
    for tensor in (inputs[0], outputs[0]):
        if tensor["dtype"] not in APP_DTYPES:
            raise UserError(f"the app handles {', '.join(APP_DTYPES)} tensors, not {tensor['dtype']}")
    if out_shape[1] == 1:  # a binary head: one score decides between two labels
        if len(labels) != 2:
            raise UserError(f"{len(labels)} label{'s' if len(labels) != 1 else ''} for a model with "
                            "one score per image; it takes two: below and over its threshold")
        if threshold is None:
            raise UserError("the model gives one score per image, but its manifest records no "
                            "decision threshold; convert it again")
    elif len(labels) != out_shape[1]:
        raise UserError(f"{len(labels)} labels for a model with {out_shape[1]} classes")


def input_bytes(image: np.ndarray, tensor: dict) -> bytes:
    """One preprocessed image as the interpreter's input bytes (quantized with the model's own
    scale and zero point, or little-endian float32)."""
    info = TensorInfo(tensor["name"], tuple(tensor["shape"]), tensor["dtype"], tensor["scale"],
                      tensor["zero_point"])
    if info.scale:
        return quantize(image[None], info).tobytes()
    return np.asarray(image, "<f4").tobytes()


def golden_tolerance(expected: np.ndarray, output: dict) -> float:
    """How far the phone's outputs may be from the expected ones: two quantization steps for an
    integer output (another CPU's kernels may round an accumulator differently), else 1e-3 of
    the largest output (float kernels sum in another order)."""
    if output["scale"]:
        return 2.0 * float(output["scale"])
    return 1e-3 * max(1.0, float(np.abs(expected).max()))


def write_png(path: Path, image: np.ndarray) -> None:
    """An 8-bit RGB PNG (grey replicated), which Android's BitmapFactory and ImageIO decode
    exactly; no colour profile or gamma chunk is written."""
    image = np.asarray(image, np.uint8)
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    ok, data = cv2.imencode(".png", image[..., ::-1])
    if not ok:
        raise UserError(f"{path}: PNG encoding failed")
    path.write_bytes(data.tobytes())


def properties_text(values: dict) -> str:
    """Java .properties text (keys and values here are plain ASCII without separators)."""
    return "".join(f"{key}={value}\n" for key, value in values.items())


def _float(value) -> str:
    """A float32 value written so that Java's Float.parseFloat reads back the same bits."""
    return repr(float(np.float32(value)))


def bundle_properties(manifest, labels: list, inputs: list, outputs: list, threshold,
                      tolerance: float, count: int) -> dict:
    """bundle.properties' values (before the golden samples' file names): the model file and its
    tensors, the preprocessing record, the post-processing and decision threshold, the golden
    samples' tolerance and count."""
    preprocessing = manifest.preprocessing
    values = {
        "format": FORMAT, "model.file": MODEL_FILE, "model.sha256": manifest.sha256,
        "model.precision": manifest.precision, "labels.file": LABELS_FILE,
        "classes": len(labels),
    }
    for prefix, tensor in (("input", inputs[0]), ("output", outputs[0])):
        values[f"{prefix}.shape"] = ",".join(str(d or 1) for d in tensor["shape"])
        values[f"{prefix}.dtype"] = tensor["dtype"]
        if tensor["scale"]:
            values[f"{prefix}.scale"] = _float(tensor["scale"])
            values[f"{prefix}.zero_point"] = int(tensor["zero_point"])
    values.update({
        "preprocess.height": preprocessing.height, "preprocess.width": preprocessing.width,
        "preprocess.channels": preprocessing.channels,
        "preprocess.scale": ",".join(repr(v) for v in preprocessing.scale),
        "preprocess.offset": ",".join(repr(v) for v in preprocessing.offset),
        "preprocess.channel_order": preprocessing.channel_order,
        "preprocess.resize": preprocessing.resize, "preprocess.fit": preprocessing.fit,
        "postprocess": manifest.postprocess or "none",
        **({"decision.threshold": _float(threshold)} if threshold is not None else {}),
        "golden.tolerance": _float(tolerance), "golden.count": count,
        "litert.version": PHONE_LITERT_VERSION,  # the app's build.gradle reads its LiteRT here
    })
    return values


@dataclass
class GoldenRun:
    """The golden samples' outputs and where they came from."""

    run: object  # the IsolatedRun
    runtime: str
    engine: str | None
    agreement: list | None
    notes: list


def golden_run(artifact: Path, images: np.ndarray, timeout: float) -> GoldenRun:
    """The outputs the phone's runtime gives on ``images``: the app's LiteRT on an emulated ARM64
    core, compared value for value with x86 LiteRT's; x86 LiteRT's alone, said in a note, where
    the ARM64 environment is not installed."""
    from deploytool.core.environments import python_for
    from deploytool.core.runtime_agreement import agreement

    x86 = run_isolated(artifact, "tflite", images, timeout=timeout)
    if not x86.ok:
        raise UserError(f"{artifact}: the TFLite interpreter could not run it ({x86.kind}: {x86.error})")
    if python_for("arm64") is None:
        return GoldenRun(x86, "tflite", None, None, [
            f"the expected outputs are x86 LiteRT's: the ARM64 environment (LiteRT "
            f"{PHONE_LITERT_VERSION}, the app's) is not installed; `deploytool setup` installs it"])
    arm = run_isolated(artifact, "litert_arm64", images, timeout=timeout)
    if not arm.ok:
        raise UserError(f"{artifact}: the app's LiteRT {PHONE_LITERT_VERSION} on ARM64 could not "
                        f"run it ({arm.kind}: {arm.error})")
    found = agreement(arm.outputs, x86.outputs, arm.meta["outputs"], "tflite")
    return GoldenRun(arm, "litert_arm64", arm.meta.get("engine"),
                     [a.as_dict() for a in found], [])


def bundle(artifact=None, destination=None, app="android_demo", samples: int = DEFAULT_SAMPLES,
           labels_file=None, data: str | None = None, seed: int = 0,
           timeout: float = DEFAULT_TIMEOUT) -> BundleReport:
    """Write ``artifact`` (default: the last converted .tflite) with its labels, preprocessing
    and ``samples`` golden samples to ``destination`` (default: the bundle folder of ``app``),
    replacing any earlier bundle there in one rename."""
    artifact = Path(artifact) if artifact else default_artifact()
    manifest = manifest_of(artifact)
    if artifact.suffix.lower() != ".tflite":
        raise UserError(f"{artifact}: the Android app runs .tflite models; convert with --to tflite")
    if not 1 <= samples <= 64:
        raise UserError(f"--samples must be between 1 and 64, got {samples}")
    integrity = integrity_failures(artifact, manifest)
    if integrity:
        raise UserError(f"{artifact}: {integrity[0]}")
    if len(manifest.outputs) != 1:
        raise UserError(f"{artifact}: the app runs models with one output, and this one has "
                        f"{len(manifest.outputs)} ({', '.join(o['name'] for o in manifest.outputs)}); "
                        "convert it with --drop-output for each head the app does not show")
    labels = read_labels(labels_file) if labels_file else list(manifest.labels or [])
    if not labels:
        raise UserError(f"{artifact}: its manifest names no classes; pass --labels FILE (one "
                        "class name per line) here, or to convert or run so that the manifest "
                        "carries them")
    preprocessing = manifest.preprocessing
    threshold = decision_threshold_of(manifest)
    check_fits_app(manifest.inputs, manifest.outputs, preprocessing, labels, threshold)
    destination = Path(destination) if destination else app_bundle_folder(app)

    raw, true_labels, _ = reference_samples(manifest, data, samples, seed)
    images = preprocessing.apply(raw)
    golden = golden_run(artifact, images, timeout)
    run = golden.run
    inputs, outputs = run.meta["inputs"], run.meta["outputs"]
    check_fits_app(inputs, outputs, preprocessing, labels, threshold)  # the file itself too
    (expected,) = [values.astype("<f4") for values in run.outputs.values()]
    tolerance = golden_tolerance(expected, outputs[0])
    values = bundle_properties(manifest, labels, inputs, outputs, threshold, tolerance,
                               len(images))
    described = []
    with atomic_path(destination, directory=True) as staging:
        shutil.copyfile(artifact, staging / MODEL_FILE)
        (staging / LABELS_FILE).write_text("".join(f"{label}\n" for label in labels), encoding="utf-8")
        (staging / "golden").mkdir()
        for i, (image, preprocessed, output) in enumerate(zip(raw, images, expected)):
            names = {"image": f"golden/{i}.png", "input": f"golden/{i}.input.bin",
                     "expected": f"golden/{i}.expected.bin"}
            write_png(staging / names["image"], image)
            (staging / names["input"]).write_bytes(input_bytes(preprocessed, inputs[0]))
            (staging / names["expected"]).write_bytes(output.tobytes())
            values.update({f"golden.{i}.{key}": name for key, name in names.items()})
            described.append({"image": names["image"],
                              "label": None if true_labels is None else labels[int(true_labels[i])],
                              "expected_top1": labels[int(decisions(output[None], threshold)[0])]})
        (staging / "bundle.properties").write_text(properties_text(values), encoding="ascii")
        files = {p.relative_to(staging).as_posix(): {"size_bytes": p.stat().st_size,
                                                     "sha256": sha256_file(p)}
                 for p in sorted(staging.rglob("*")) if p.is_file()}
        write_json(staging / "bundle.json", {
            "format": FORMAT, "source": {"artifact": str(artifact), "manifest": manifest.artifact_entry,
                                         "parity": manifest.parity},
            "settings": {"samples": len(images), "seed": seed, "data": data,
                         "labels_file": str(labels_file) if labels_file else None},
            "golden": {"tolerance": tolerance, "samples": described, "runtime": golden.runtime,
                       "engine": golden.engine, "agreement_with_x86": golden.agreement,
                       "notes": golden.notes},
            "files": files, "tool_versions": tool_versions(), "created": now()})
    return BundleReport(str(destination), str(artifact), files, described, tolerance,
                        golden.runtime, golden.agreement, golden.notes)

