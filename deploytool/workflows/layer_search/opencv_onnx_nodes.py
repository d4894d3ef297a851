"""The node of an .onnx at which OpenCV fails to load or run it, when its message names none
("buf.shape() == m.shape()", or a crash), and ONNX Runtime runs it: OpenCV is run on the model
cut after ever later nodes, each try in its own child process (so a crash is an answer too), and
the first cut that fails, found by bisection, ends at the node to blame.

Bisection assumes a cut that fails keeps failing when more nodes are added; the answer is checked
(the cut before the node runs, the cut at it fails) and None is given when it does not hold, or
when even the whole graph cut at its last node runs (the failure needs the graph's own outputs).
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np

# ops that compute nothing OpenCV could fail on by themselves
SKIPPED = ("Constant", "Identity")
FLOATS = (1, 10)  # onnx.TensorProto.FLOAT, FLOAT16


def _value_infos(model) -> dict:
    """The type and shape of every tensor shape inference can tell, by name."""
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # noqa: BLE001 - without inference no cut can declare its output
        return {}
    values = [*inferred.graph.value_info, *inferred.graph.output, *inferred.graph.input]
    return {value.name: value for value in values if value.type.tensor_type.HasField("shape")}


def _cut(model, output, folder: Path) -> Path:
    """``model`` from its inputs to the tensor ``output`` (a ValueInfoProto: OpenCV wants the
    output's type and shape) with the nodes it needs and nothing after, written to ``folder``."""
    import onnx

    needed, kept = {output.name}, []
    for node in reversed(model.graph.node):
        if needed.intersection(node.output):
            kept.append(node)
            needed.update(name for name in node.input if name)
    cut = onnx.ModelProto()
    cut.CopyFrom(model)
    del cut.graph.node[:]
    cut.graph.node.extend(reversed(kept))
    initializers = [tensor for tensor in model.graph.initializer if tensor.name in needed]
    del cut.graph.initializer[:]
    cut.graph.initializer.extend(initializers)
    del cut.graph.output[:]
    cut.graph.output.append(output)
    path = folder / f"cut_{len(kept)}.onnx"
    onnx.save(cut, str(path))
    return path


def opencv_forward(path: str, images: str, engine: str) -> bool:
    """OpenCV alone on a file: load the .onnx at ``path`` in ``engine`` and run one forward pass
    on the .npy ``images``, nothing read from its output (a cut's output is any intermediate
    tensor, which the runners' output handling is not for). Run in a child by
    :func:`_opencv_runs`: a crash or a hang is a no."""
    import cv2

    net = cv2.dnn.readNetFromONNX(path, {"new": cv2.dnn.ENGINE_NEW,
                                         "classic": cv2.dnn.ENGINE_CLASSIC}[engine])
    net.setInput(np.load(images))
    net.forward()
    return True


def _feed(model, images: np.ndarray) -> np.ndarray:
    """``images`` (NHWC) in the layout the graph's input declares (NCHW when its last axis is not
    the images' channels)."""
    dims = [dim.dim_value for dim in model.graph.input[0].type.tensor_type.shape.dim]
    nchw = len(dims) == 4 and dims[-1] != images.shape[-1] and dims[1] == images.shape[-1]
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2) if nchw else images, np.float32)


def _opencv_runs(path: Path, feed: np.ndarray, engine: str, folder: Path, timeout: float) -> bool:
    """Whether OpenCV's ``engine`` loads the .onnx at ``path`` and runs it on ``feed``, in a child
    process (a crash or a hang is a no)."""
    from deploytool.core.child import call_in_child

    images = folder / "feed.npy"
    if not images.exists():
        np.save(images, feed)
    return call_in_child(f"{__name__}:opencv_forward", path, images, engine, timeout=timeout).ok


def failing_node(path, images: np.ndarray, engine: str = "new", timeout: float = 120,
                 reproduction_dir: Path | None = None) -> str | None:
    """"at node NAME (OP)" for the first node of the .onnx at ``path`` whose cut OpenCV's
    ``engine`` cannot load or run on one of ``images`` (batch of model inputs), or None when no
    node can be blamed alone or ONNX Runtime cannot run the file either. Given
    ``reproduction_dir``, that cut is written there (``opencv_repro_<node>.onnx``: the model up to
    the node, which ONNX Runtime runs and OpenCV does not) and the answer names it."""
    import onnx

    from deploytool.runtimes.isolation import run_isolated

    path = Path(path)
    if not run_isolated(path, "onnxruntime", images[:1], timeout=timeout).ok:
        return None  # the file's own runtime fails too: nothing OpenCV alone gets wrong
    try:
        model = onnx.load(str(path))
    except Exception:  # noqa: BLE001 - a file onnx cannot read names no node
        return None
    nodes = [node for node in model.graph.node if node.op_type not in SKIPPED and node.output]
    if not nodes:
        return None
    values = _value_infos(model)
    # a cut must declare its output; cuts end on the float data path (OpenCV folds shape
    # arithmetic into constants, so a cut ending there fails for no fault of the model)
    nodes = [node for node in nodes if node.output[0] in values and
             values[node.output[0]].type.tensor_type.elem_type in FLOATS]
    if not nodes:
        return None
    feed = _feed(model, images[:1])
    with tempfile.TemporaryDirectory(prefix="deploytool-cut-") as tmp:
        results: dict[int, bool] = {}

        def fails(index: int) -> bool:
            if index not in results:
                try:
                    cut = _cut(model, values[nodes[index].output[0]], Path(tmp))
                except Exception:  # noqa: BLE001 - a cut onnx cannot make is not evidence
                    results[index] = False
                else:
                    results[index] = not _opencv_runs(cut, feed, engine, Path(tmp), timeout)
            return results[index]

        low, high = 0, len(nodes) - 1
        if not fails(high):
            return None
        while low < high:
            middle = (low + high) // 2
            if fails(middle):
                high = middle
            else:
                low = middle + 1
        if low > 0 and fails(low - 1):  # not monotone: no node to blame alone
            return None
        node = nodes[low]
        found = f"at node {node.name or node.output[0]} ({node.op_type})"
        if reproduction_dir is None:
            return found
        from deploytool.core.fileio import atomic_path

        cut = _cut(model, values[node.output[0]], Path(tmp))
        target = Path(reproduction_dir) / f"opencv_repro_{_file_name(node.name or node.output[0])}.onnx"
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as staging:
            staging.write_bytes(cut.read_bytes())
        return f"{found}; reproduction: {target} (the graph up to it: ONNX Runtime runs it, OpenCV does not)"


def _file_name(name: str) -> str:
    """A node name as a file name: runs of anything but letters, digits, '-' and '_' as '_'."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_")[:80] or "node"
