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

    def export(self, model, precision, calibration, options) -> Exported:
        from deploytool.converters.targets.pb.export import export_frozen_graph

        binary, text = export_frozen_graph(model)
        return Exported(binary, {".pbtxt": text.encode()})

    def tensors(self, artifact: bytes, images, options) -> dict:
        from deploytool.converters.targets.pb.tensors import pb_tensors

        return pb_tensors(artifact, images)

    def input_layout(self, options) -> str:
        return "NHWC"  # TensorFlow's; OpenCV's TensorFlow importer is fed NCHW

    def inspect(self, path) -> dict:
        from deploytool.converters.targets.pb.inspect import inspect_pb

        return inspect_pb(path)
