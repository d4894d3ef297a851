"""The frozen-graph target: a TensorFlow GraphDef (.pb) for TensorFlow itself and OpenCV's
TensorFlow importer."""

from __future__ import annotations

from deploytool.converters.targets.registry import ExportTarget, Exported


class PbTarget(ExportTarget):
    """A frozen TensorFlow GraphDef; runs on TensorFlow itself and OpenCV's TensorFlow importer."""

    name = "pb"
    label = "TF GraphDef"
    suffix = ".pb"
    order = 3
    precisions = ("fp32",)
    runtime = "tensorflow"

    def exporter(self, keras3: bool) -> str:
        return ("convert_variables_to_constants_v2 on the " + ("Keras 3 " if keras3 else "") +
                "inference function (batch 1), pruned for inference")

    def export(self, model, precision, calibration, options, reuse=None) -> Exported:
        from deploytool.converters.targets.pb.export import export_frozen_graph

        from deploytool.converters.targets.pb.pairing import opencv_accepts_pair

        binary, text = export_frozen_graph(model)
        if not opencv_accepts_pair(binary, text, _input_shape(model)):
            return Exported(binary, {})  # a companion OpenCV fails on invites a failing pairing
        return Exported(binary, {".pbtxt": text.encode()})

    def tensors(self, artifact: bytes, images, options) -> dict:
        from deploytool.converters.targets.pb.tensors import pb_tensors

        return pb_tensors(artifact, images)

    def input_layout(self, options) -> str:
        return "NHWC"  # TensorFlow's; OpenCV's TensorFlow importer is fed NCHW

    def inspect(self, path) -> dict:
        from deploytool.converters.targets.pb.inspect import inspect_pb

        return inspect_pb(path)


def _input_shape(model) -> tuple:
    """The model's input shape without the batch ((None,) when it cannot be read)."""
    try:
        return tuple(None if size is None else int(size) for size in model.inputs[0].shape[1:])
    except (AttributeError, IndexError, TypeError):
        return (None,)
