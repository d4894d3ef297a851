"""TFLite through LiteRT's interpreter (ai-edge-litert), XNNPACK on the CPU."""

from __future__ import annotations

import numpy as np

from deploytool.core.errors import UserError
from deploytool.core.quiet import native_output_silenced
from deploytool.core.tensors import TensorInfo, dequantize, quantize
from deploytool.runtimes.base import Runner


def _info(detail) -> TensorInfo:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    return TensorInfo(detail["name"], tuple(int(d) for d in detail.get("shape_signature", detail["shape"])),
                      np.dtype(detail["dtype"]).name, float(scale), int(zero_point))


class TFLiteRunner(Runner):
    """Runs a .tflite one image at a time (batch 1, as on a phone)."""

    name = "tflite"
    label = "TFLite interpreter (LiteRT)"
    order = 1
    reads = (".tflite",)

    def _load(self):
        from ai_edge_litert.interpreter import Interpreter

        try:
            with native_output_silenced():
                self.interpreter = Interpreter(model_path=str(self.path), num_threads=self.threads)
                self.interpreter.allocate_tensors()
        except Exception as exc:
            raise UserError(f"{self.path}: not a loadable TFLite model ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
        self._input = self.interpreter.get_input_details()[0]
        self._output_details = self._named_outputs()
        self.inputs = [_info(d) for d in self.interpreter.get_input_details()]
        self.outputs = [_info({**detail, "name": name}) for name, detail in self._output_details]

    def _named_outputs(self) -> list[tuple[str, dict]]:
        """(name, tensor detail) of every output: named by the model's signature where it has
        one with all of them (deploytool's .tflite files name each output after its Keras
        output there; the tensors' own order need not be the model's), else by tensor name."""
        details = self.interpreter.get_output_details()
        by_index = {detail["index"]: detail for detail in details}
        signatures = self.interpreter._get_full_signature_list() or {}
        if len(signatures) == 1:
            (signature,) = signatures.values()
            named = signature.get("outputs") or {}
            if len(details) > 1 and sorted(named.values()) == sorted(by_index):
                return [(name, by_index[index]) for name, index in named.items()]
        return [(detail["name"], detail) for detail in details]

    @property
    def input_shape(self):
        return tuple(int(d) for d in self._input["shape"][1:])

    def _prepare(self, images):
        inp = self.inputs[0]
        return [(quantize(image[None], inp) if inp.scale else image[None]).astype(inp.dtype)
                for image in images]

    def _run(self, prepared):
        results = [[] for _ in self._output_details]
        for data in prepared:
            self.interpreter.set_tensor(self._input["index"], data)
            self.interpreter.invoke()
            for found, (_, detail) in zip(results, self._output_details):
                found.append(self.interpreter.get_tensor(detail["index"]))
        return [np.concatenate(found) for found in results]

    def _finish(self, raw, count):
        return super()._finish([dequantize(values, out) if out.scale else values
                                for values, out in zip(raw, self.outputs)], count)

    def profile(self, images: np.ndarray, runs: int = 20) -> list[dict]:
        """Not reachable from Python: said in one line."""
        raise UserError("LiteRT's Python package (ai-edge-litert) has no per-operator profiler: "
                        "neither its Interpreter nor its CompiledModel exposes one; LiteRT's "
                        "benchmark_model --enable_op_profiling=true gives it on the device")
