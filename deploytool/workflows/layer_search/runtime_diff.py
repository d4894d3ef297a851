"""`deploytool diagnose ARTIFACT --backend opencv`: where another runtime goes wrong, layer by layer.

The artifact runs on its own runtime (LiteRT for a .tflite, ONNX Runtime for a .onnx, TensorFlow
for a .pb) and on OpenCV's dnn with every intermediate output exposed; the layers are paired by
the names both give them (OpenCV names its layers after the file's tensors or nodes), maps
compared in one layout, and the first layer whose output differs by more than the precision's
bar, relative to the size of its values, is the one named: its op and attributes, its output's
shape, and the difference before and after it. A one-layer model of that layer (built from the
Keras reference, exported by the same target) is written beside the report as a minimal
reproduction, with a short text for an upstream bug report (:mod:`.reproduction`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path


from deploytool.converters.options import ConvertOptions
from deploytool.converters.targets.registry import target
from deploytool.core.errors import UserError
from deploytool.core.layer_diff import LayerDiff, compare_layers, first_divergence
from deploytool.workflows.artifacts import manifest_of, verification_images

DEFAULT_SAMPLES = 4
# A layer diverges when its output differs from its own runtime's by more than this share of the
# largest value it holds: float32 kernels differ by 1e-6..1e-5 of it, int8 kernels by a few
# quantization steps (1/255 each); a wrong kernel is off by tens of percent.
BARS = {"fp32": 1e-3, "fp16": 1e-2, "dynamic": 0.05, "int8": 0.05}
BACKENDS = ("opencv",)


@dataclass
class RuntimeDiff:
    """The layers compared, the first that diverges (None: none does) and what was compared."""

    artifact: str
    format: str
    precision: str
    runtime: str
    backend: str
    images: dict
    bar: float
    rows: list[LayerDiff]
    first: LayerDiff | None = None
    before: float | None = None  # the largest relative difference of the layers before it
    attributes: dict = field(default_factory=dict)
    unmatched: int = 0  # layers of the backend with no tensor of the same name
    reproduction: dict | None = None
    seconds: float = 0.0

    def summary(self) -> str:
        """One line: the first diverging layer and its op, or that every layer agrees."""
        if self.first is None:
            return (f"{self.artifact}: every one of the {len(self.rows)} layers compared agrees "
                    f"between {self.runtime} and {self.backend} (relative difference <= {self.bar:g})")
        before = f"{self.before:.1e}" if self.before is not None else "nothing before it"
        return (f"{self.artifact}: {self.backend} first diverges at {self.first.name} "
                f"({self.first.op}; {self.backend} layer {self.first.backend_type}, output "
                f"{'x'.join(map(str, self.first.shape))}): relative difference "
                f"{self.first.relative:.1e} against {before} before it")

    def as_dict(self) -> dict:
        """Plain-JSON form."""
        return {"artifact": self.artifact, "format": self.format, "precision": self.precision,
                "runtime": self.runtime, "backend": self.backend, "images": self.images,
                "bar": self.bar, "first": self.first.as_dict() if self.first else None,
                "before": self.before, "attributes": self.attributes,
                "unmatched_layers": self.unmatched, "reproduction": self.reproduction,
                "seconds": round(self.seconds, 2), "layers": [row.as_dict() for row in self.rows]}


def runtime_diff(artifact, backend: str = "opencv", data: str | None = None,
                 samples: int = DEFAULT_SAMPLES, out_dir=None, log=lambda message: None) -> RuntimeDiff:
    """Compare ``artifact`` on its own runtime and on ``backend`` layer by layer, on ``samples``
    verification images of ``data``; with ``out_dir``, write the first diverging layer's
    minimal reproduction there."""
    from deploytool.runtimes.base import runners
    from deploytool.runtimes.opencv_runner import opencv_layer_outputs
    from deploytool.workflows.layer_search.reproduction import write_reproduction

    if backend not in BACKENDS:
        raise UserError(f"diagnose --backend compares with {', '.join(BACKENDS)}, not {backend!r}")
    if samples < 1:
        raise UserError(f"--samples must be at least 1, got {samples}")
    started = time.perf_counter()
    artifact = Path(artifact)
    manifest = manifest_of(artifact)
    chosen = target(manifest.format)
    options = ConvertOptions.from_record(manifest.settings)
    images, _, description = verification_images(manifest, data, samples)
    log(f"running every layer of {artifact.name} on {runners()[chosen.runtime].label}")
    own = chosen.tensors(artifact.read_bytes(), images, options)
    log(f"running every layer of {artifact.name} on OpenCV dnn (classic engine)")
    try:
        other = opencv_layer_outputs(artifact, images)
    except RuntimeError as exc:
        raise UserError(f"{artifact.name} does not run in OpenCV dnn, so no layer can be "
                        f"compared: {exc}") from None
    rows, unmatched = compare_layers(own, other)
    bar = BARS[manifest.precision]
    index, before = first_divergence(rows, bar)
    report = RuntimeDiff(artifact.name, manifest.format, manifest.precision,
                         runners()[chosen.runtime].label, "OpenCV dnn", description, bar, rows,
                         rows[index] if index is not None else None, before, unmatched=unmatched)
    if report.first is not None:
        report.attributes = layer_attributes(artifact, manifest.format, report.first.name)
        if out_dir is not None:
            report.reproduction = write_reproduction(manifest, options, report, Path(out_dir), log)
    report.seconds = time.perf_counter() - started
    return report


def layer_attributes(artifact: Path, format_: str, name: str) -> dict:
    """The attributes the file gives the op of ``name`` (an ONNX node's, a GraphDef node's;
    a .tflite op's options are not read)."""
    if format_ == "onnx":
        import onnx

        node = next((n for n in onnx.load(str(artifact), load_external_data=False).graph.node
                     if n.name == name), None)
        return {} if node is None else {a.name: _plain(onnx.helper.get_attribute_value(a))
                                        for a in node.attribute}
    if format_ == "pb":
        from deploytool.core.keras_env import tf

        graph_def = tf.compat.v1.GraphDef()
        graph_def.ParseFromString(artifact.read_bytes())
        node = next((n for n in graph_def.node if n.name == name), None)
        if node is None:
            return {}
        return {key: str(value).strip().replace("\n", " ") for key, value in node.attr.items()
                if key not in ("T", "dtype", "_output_shapes")}
    return {}


def _plain(value):
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value if isinstance(value, (int, float, str)) else str(value)


def runtime_diff_record(artifact: str, data: str | None) -> dict:
    """:func:`runtime_diff` of ``artifact`` on 2 images, as a plain record (run in a child by
    :func:`locate_divergence`)."""
    return runtime_diff(artifact, data=data, samples=2).as_dict()


def locate_divergence(artifact, data: str | None = None, timeout: float = 300) -> str | None:
    """Where OpenCV first computes ``artifact`` differently from its own runtime, in a few words
    for a verify row ("first diverges at <layer> (<op>; OpenCV <type>), relative 4e-01"), or
    that no layer does by itself, found by :func:`runtime_diff` (no reproduction written) in a
    child process, so that a crash or a hang of the classic engine stays there; None when it
    cannot tell (no layer could be compared, or the comparison failed)."""
    from deploytool.core.child import call_in_child

    answer = call_in_child(f"{__name__}:runtime_diff_record", artifact, data, timeout=timeout)
    if not answer.ok:
        return None
    found = answer.value
    first = found["first"]
    if first is None:
        if not found["layers"]:
            return None
        return (f"no layer of the {len(found['layers'])} compared diverges past {found['bar']:g} "
                f"relative ({found['precision']}): the difference builds up across layers "
                f"(`deploytool diagnose {Path(artifact).name} --backend opencv` lists each one)")
    return (f"first diverges at {first['name']} ({first['op']}; OpenCV {first['backend_type']}), "
            f"relative {first['relative']:.0e}: `deploytool diagnose {Path(artifact).name} "
            "--backend opencv` writes a minimal reproduction")
