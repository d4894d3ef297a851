"""The node of an .onnx at which OpenCV fails to load or run it, when its message names none
("buf.shape() == m.shape()", or a crash), and ONNX Runtime runs it: OpenCV is run on the model
cut after ever later nodes, each try in its own child process (so a crash is an answer too), and
the first cut that fails, found by bisection, ends at the node to blame.

Bisection assumes a cut that fails keeps failing when more nodes are added; the answer is checked
(the cut before the node runs, the cut at it fails) and None is given when it does not hold, or
when even the whole graph cut at its last node runs (the failure needs the graph's own outputs).
"""

from __future__ import annotations

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


def failing_node(path, images: np.ndarray, engine: str = "new", timeout: float = 120) -> str | None:
    """"at node NAME (OP)" for the first node of the .onnx at ``path`` whose cut OpenCV's
    ``engine`` cannot load or run on one of ``images`` (batch of model inputs), or None when no
    node can be blamed alone or ONNX Runtime cannot run the file either."""
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
    with tempfile.TemporaryDirectory(prefix="deploytool-cut-") as tmp:
        results: dict[int, bool] = {}

        def fails(index: int) -> bool:
            if index not in results:
                try:
                    cut = _cut(model, values[nodes[index].output[0]], Path(tmp))
                except Exception:  # noqa: BLE001 - a cut onnx cannot make is not evidence
                    results[index] = False
                else:
                    run = run_isolated(cut, "opencv", images[:1], timeout=timeout, engine=engine)
                    results[index] = not run.ok
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
    return f"at node {node.name or node.output[0]} ({node.op_type})"
