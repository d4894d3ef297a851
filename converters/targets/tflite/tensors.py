"""Every op output of a .tflite on LiteRT (without its delegate, every intermediate kept), for
comparing runtimes layer by layer: by tensor name, the name OpenCV's TFLite importer gives the
layer that computes it."""

from __future__ import annotations

import numpy as np

from deploytool.converters.targets.tflite.debug import SKIPPED_OPS, _feed, _interpreter


def tflite_tensors(content: bytes, images: np.ndarray) -> dict[str, tuple[str, np.ndarray]]:
    """{tensor name: (op, values over ``images`` (N, ...), dequantized)} of every op output, in
    execution order."""
    interpreter = _interpreter(content)
    details = {d["index"]: d for d in interpreter.get_tensor_details()}
    outputs = [(op["op_name"], index) for op in interpreter._get_ops_details()
               if op["op_name"] not in SKIPPED_OPS for index in op["outputs"]]
    found = {details[index]["name"]: (op, []) for op, index in outputs}
    for image in images:
        _feed(interpreter, image)
        for op, index in outputs:
            values = interpreter.get_tensor(index).astype(np.float32)
            scale, zero_point = details[index]["quantization"]
            if scale and np.dtype(details[index]["dtype"]).kind in "iu":
                values = (values - zero_point) * scale
            found[details[index]["name"]][1].append(values)
    return {name: (op, np.concatenate(values)) for name, (op, values) in found.items()}
