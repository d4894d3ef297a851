"""Whether OpenCV accepts a frozen graph's text companion: ``cv2.dnn.readNetFromTensorflow(pb,
pbtxt)`` must load and compute what the .pb alone does, on every engine the .pb alone runs on.
Some graphs run alone but not paired (a unit-norm embedding: NEW asserts in getMemoryShapes,
CLASSIC has no layer for l2_normalize's Maximum); their companion is not written, so that no one
is invited to a pairing that fails. Checked in a child process: a crash is a no."""

from __future__ import annotations

import tempfile
from pathlib import Path

from deploytool.core.child import call_in_child

def pairing_answer(pb: str, pbtxt: str, shape: list) -> dict:
    """For each OpenCV engine, whether the .pb alone fails (nothing to compare) or the pair
    computes what the .pb alone does on a random NCHW blob of ``shape`` (run in a child by
    :func:`opencv_accepts_pair`)."""
    import cv2
    import numpy as np

    blob = np.random.default_rng(0).random(shape).astype(np.float32)
    answer = {}
    for name, engine in (("new", cv2.dnn.ENGINE_NEW), ("classic", cv2.dnn.ENGINE_CLASSIC)):
        outputs = []
        for config in ("", pbtxt):
            try:
                net = cv2.dnn.readNetFromTensorflow(pb, config, engine)
                net.setInput(blob)
                outputs.append(np.asarray(net.forward(), np.float64))
            except cv2.error:
                outputs.append(None)
        alone, paired = outputs
        answer[name] = alone is None or (paired is not None and paired.shape == alone.shape and
                                         float(np.abs(paired - alone).max()) <= 1e-5)
    return answer


def opencv_accepts_pair(binary: bytes, text: str, input_shape, timeout: float = 120) -> bool:
    """Whether OpenCV's TensorFlow importer, on each engine that runs the .pb alone, also runs it
    with ``text`` as its config and gets the same output (NHWC ``input_shape`` without the batch,
    fed as OpenCV takes it: NCHW). A shape with a free size is not checked (True)."""
    if any(size is None for size in input_shape) or len(input_shape) != 3:
        return True
    height, width, channels = input_shape
    with tempfile.TemporaryDirectory(prefix="deploytool-pbtxt-") as tmp:
        pb, pbtxt = Path(tmp) / "m.pb", Path(tmp) / "m.pbtxt"
        pb.write_bytes(binary)
        pbtxt.write_text(text)
        answer = call_in_child(f"{__name__}:pairing_answer", pb, pbtxt,
                               [1, channels, height, width], timeout=timeout)
    return answer.ok and all(answer.value.values())
