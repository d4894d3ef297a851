"""A frozen GraphDef (.pb) on TensorFlow itself: the graph imported and run as a function, on
TensorFlow's default CPU path or, as a second variant, with oneDNN turned on."""

from __future__ import annotations

import os
import sys

import numpy as np

from deploytool.core.errors import UserError
from deploytool.core.tensors import TensorInfo
from deploytool.runtimes.base import DEFAULT_THREADS, Runner

ONEDNN_SWITCH = "TF_ENABLE_ONEDNN_OPTS"  # read once, when TensorFlow starts


def onednn_enabled() -> bool:
    """Whether this process's TensorFlow runs its CPU ops through oneDNN."""
    from tensorflow.python.util import _pywrap_util_port

    return bool(_pywrap_util_port.IsMklEnabled())


def turn_on_onednn() -> None:
    """Start TensorFlow with oneDNN on (TF_ENABLE_ONEDNN_OPTS=1), which it does by default only
    on some Intel CPUs. A RuntimeError where TensorFlow has already started without it (the
    switch is read once: only a fresh process can take it)."""
    if "tensorflow" not in sys.modules:
        os.environ[ONEDNN_SWITCH] = "1"
    from deploytool.core.keras_env import tf  # noqa: F401 (starts TensorFlow)

    if not onednn_enabled():
        raise RuntimeError("TensorFlow started in this process without oneDNN; "
                           f"{ONEDNN_SWITCH}=1 takes effect only in a fresh process")


def _refusal(exc) -> str:
    """TensorFlow's runtime error in one line: its kind and the node it names (an
    UnimplementedError is an op, or a fusion of Grappler's, without a CPU kernel: a grouped
    Conv2D fused with its bias and ReLU has none on TensorFlow's default Eigen path, which it
    takes where oneDNN is off, by default on every non-Intel CPU; TF_ENABLE_ONEDNN_OPTS=1 runs
    it, measured on an AMD EPYC)."""
    import re

    found = re.search(r"\{\{node ([^}]+)\}\}", str(exc))
    node = f" at node {found.group(1)}" if found else ""
    kind = type(exc).__name__
    why = " (an op, or a fusion of TensorFlow's graph optimizer, without a CPU kernel)" \
        if kind == "UnimplementedError" else ""
    return f"TensorFlow's runtime refused the graph: {kind}{node}{why}"


class TensorFlowRunner(Runner):
    """Runs a .pb one image at a time (it is frozen at batch 1). With ``onednn`` it turns
    oneDNN on first (a fresh process only), and its :attr:`engine` says so."""

    name = "tensorflow"
    label = "TensorFlow (GraphDef)"
    order = 4
    reads = (".pb",)
    # TensorFlow's default CPU path, then oneDNN: on a CPU where oneDNN is off by default
    # (every non-Intel one), Grappler fuses a grouped Conv2D with its bias and ReLU into a node
    # the default (Eigen) path has no kernel for, and the graph runs only with oneDNN on
    variants = ({}, {"onednn": True})

    def __init__(self, path, threads: int = DEFAULT_THREADS, onednn: bool = False):
        super().__init__(path, threads)
        self.onednn = onednn

    @classmethod
    def variant_name(cls, options: dict) -> str:
        return "oneDNN" if options.get("onednn") else "default"

    def _load(self):
        from deploytool.converters.targets.pb.graph_reader import graph_endpoints, read_graph

        if self.onednn:
            turn_on_onednn()
            self.engine = f"oneDNN, {ONEDNN_SWITCH}=1"
        from deploytool.core.keras_env import tf

        try:  # possible only before TensorFlow's runtime starts (a fresh child process)
            tf.config.threading.set_intra_op_parallelism_threads(self.threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            pass
        data = self.path.read_bytes()
        try:
            inputs, outputs = graph_endpoints(read_graph(data))
            graph_def = tf.compat.v1.GraphDef.FromString(data)
        except Exception as exc:
            raise UserError(f"{self.path}: not a valid TensorFlow GraphDef ({type(exc).__name__})") from None
        if len(inputs) != 1 or not outputs:
            raise UserError(f"{self.path}: expected one image input and at least one output, "
                            f"found {len(inputs)} input(s) and {len(outputs)} output(s)")
        imported = tf.compat.v1.wrap_function(
            lambda: tf.compat.v1.import_graph_def(graph_def, name=""), [])
        graph = imported.graph
        fetched = [graph.get_tensor_by_name(f"{output.name}:0") for output in outputs]
        try:
            self._function = imported.prune(
                feeds=[graph.get_tensor_by_name(f"{inputs[0].name}:0")], fetches=fetched)
        except tf.errors.OpError as exc:
            raise RuntimeError(_refusal(exc)) from None
        self._shape = tuple(inputs[0].shape or ())
        self.inputs = [TensorInfo(inputs[0].name, tuple(-1 if d is None else d for d in self._shape),
                                  inputs[0].dtype or "float32")]
        self.outputs = [TensorInfo(output.name, tuple(-1 if d is None else d for d in tensor.shape),
                                   tensor.dtype.name) for output, tensor in zip(outputs, fetched)]

    @property
    def input_shape(self):
        return tuple(int(d) for d in self._shape[1:])

    def _prepare(self, images):
        return [image[None] for image in images]

    def _run(self, prepared):
        from deploytool.core.keras_env import tf

        try:
            results = [self._function(tf.constant(image)) for image in prepared]
        except tf.errors.OpError as exc:
            raise RuntimeError(_refusal(exc)) from None
        return [np.concatenate([np.asarray(result[k]) for result in results])
                for k in range(len(self.outputs))]

    def profile(self, images: np.ndarray, runs: int = 20) -> list[dict]:
        """TensorFlow's step statistics (a full trace of a Session run): each node's compute
        time."""
        from deploytool.converters.targets.pb.graph_reader import graph_endpoints, read_graph
        from deploytool.core.keras_env import tf

        self.load()
        data = self.path.read_bytes()
        inputs, outputs = graph_endpoints(read_graph(data))
        graph = tf.Graph()
        with graph.as_default():
            tf.compat.v1.import_graph_def(tf.compat.v1.GraphDef.FromString(data), name="")
        ops = {op.name: op.type for op in graph.get_operations()}
        fetches = [f"{output.name}:0" for output in outputs]
        feed = {f"{inputs[0].name}:0": self._checked(images[:1])}
        options = tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE)
        totals: dict[str, list] = {}
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(fetches, feed)
            for _ in range(runs):
                metadata = tf.compat.v1.RunMetadata()
                session.run(fetches, feed, options=options, run_metadata=metadata)
                for device in metadata.step_stats.dev_stats:
                    for node in device.node_stats:
                        name = node.node_name.split(":")[0]
                        if name in ops and ops[name] not in ("Const", "Placeholder", "NoOp"):
                            totals.setdefault(name, []).append(node.op_end_rel_micros / 1e3)
        order = [name for name in ops if name in totals]
        return [{"name": name, "op": ops[name], "ms": float(np.median(totals[name]))} for name in order]
