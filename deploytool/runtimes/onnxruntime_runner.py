"""ONNX through ONNX Runtime's CPU execution provider."""

from __future__ import annotations

import numpy as np

from deploytool.core.errors import UserError
from deploytool.core.tensors import TensorInfo
from deploytool.runtimes.base import Runner


def _dim(d):
    return d if isinstance(d, int) else -1


class OnnxRuntimeRunner(Runner):
    """Runs an .onnx batch-wise; NCHW-input models get their images transposed."""

    name = "onnxruntime"
    label = "ONNX Runtime"
    order = 2
    reads = (".onnx",)

    def _load(self):
        import onnxruntime as ort

        from deploytool.core.untrusted import check_onnx_external_data

        check_onnx_external_data(self.path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(self.path), options,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise UserError(f"{self.path}: not a loadable ONNX model ({str(exc).splitlines()[0]})") from None
        self.inputs = [TensorInfo(i.name, tuple(_dim(d) for d in i.shape), i.type)
                       for i in self.session.get_inputs()]
        self.outputs = [TensorInfo(o.name, tuple(_dim(d) for d in o.shape), o.type)
                        for o in self.session.get_outputs()]
        shape = self.inputs[0].shape
        self.nchw = len(shape) == 4 and shape[1] in (1, 3) and shape[3] not in (1, 3)

    @property
    def input_shape(self):
        shape = self.inputs[0].shape
        return tuple(shape[2:]) + (shape[1],) if self.nchw else tuple(shape[1:])

    def _prepare(self, images):
        return np.ascontiguousarray(images.transpose(0, 3, 1, 2) if self.nchw else images)

    def _run(self, prepared):
        return self.session.run([output.name for output in self.outputs],
                                {self.inputs[0].name: prepared})

    def profile(self, images: np.ndarray, runs: int = 20) -> list[dict]:
        """ONNX Runtime's own profiler (``SessionOptions.enable_profiling``): each node's kernel
        time from the trace it writes."""
        import json
        import tempfile
        from pathlib import Path

        import onnxruntime as ort

        self.load()
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        with tempfile.TemporaryDirectory(prefix="deploytool-ort-profile-") as tmp:
            options.enable_profiling = True
            options.profile_file_prefix = str(Path(tmp) / "profile")
            session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
            feed = {self.inputs[0].name: self._prepare(self._checked(images[:1]))}
            for _ in range(runs + 1):
                session.run(None, feed)
            trace = json.loads(Path(session.end_profiling()).read_text())
        totals: dict[str, list] = {}
        for event in trace:
            if event.get("cat") == "Node" and event.get("name", "").endswith("_kernel_time"):
                name = event["name"][: -len("_kernel_time")]
                entry = totals.setdefault(name, [event.get("args", {}).get("op_name", "?"), []])
                entry[1].append(event["dur"] / 1e3)
        return [{"name": name, "op": op, "ms": float(np.median(times[1:] or times))}
                for name, (op, times) in totals.items()]  # the first call is the warm-up
