"""OpenCV's dnn module: its ONNX, TFLite and TensorFlow importers, in the engine that works.

Each importer gets the layout it really expects: the TFLite and TensorFlow importers take NCHW
blobs whatever the model says (an NHWC blob fails or, worse, runs on garbage); the ONNX importer
takes the model's own declared layout (tf2onnx keeps NHWC unless exported with an NCHW input). Images are fed one at a
time through one Net, which never meets a larger batch than it was first run with (the CLASSIC
engine crashes when a Net is reused with a larger batch). Outputs are reshaped to (N, classes):
CLASSIC returns (N, 1, C) where the others return (N, C).
"""

from __future__ import annotations

import re

import numpy as np

from deploytool.core.errors import UserError
from deploytool.core.tensors import TensorInfo
from deploytool.runtimes.base import DEFAULT_THREADS, Runner

ENGINES = ("new", "classic")


def _last_line(exc: Exception) -> str:
    """OpenCV's message without its source path: "<what> (<error class>)"."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    line = lines[-1] if lines else type(exc).__name__
    match = re.search(r"error: \(-?\d+:([^)]*)\) (.*)", line)
    return f"{match.group(2)} ({match.group(1).strip()})" if match else line

# how OpenCV's CLASSIC engine logs a layer whose output shape it cannot work out
SHAPE_FAILURE = re.compile(r"OPENCV/DNN: \[(\w+)\]:\((.+?)\): getMemoryShapes\(\) throws exception")


class OpenCVRunner(Runner):
    """Runs .onnx or .tflite through cv2.dnn with ``engine`` "new", "classic" or "auto"."""

    name = "opencv"
    label = "OpenCV dnn"
    order = 3
    reads = (".onnx", ".tflite", ".pb")
    variants = tuple({"engine": engine} for engine in ENGINES)

    @classmethod
    def layer_in_log(cls, log: str) -> str | None:
        """The layer whose output shape OpenCV's CLASSIC engine could not work out: it logs the
        layer, its type, its inputs' shapes and its weights' ("[Convolution]:(NAME):
        getMemoryShapes() throws exception", then "input[0] = [1 x 31 x 24 x 24]", "blobs[0] =
        CV_32FC1 [11 x 32 x 1 x 1]") where its exception says only "got 31"."""
        found = SHAPE_FAILURE.search(log)
        if not found:
            return None
        block = log[found.end():].split("Exception message", 1)[0]
        inputs = re.findall(r"input\[\d+\] = (\[[^\]]*\])", block)
        weights = re.findall(r"blobs\[0\] = \S+ (\[[^\]]*\])", block)
        shapes = ([f"input {', '.join(inputs)}"] if inputs else []) + \
            ([f"weights {weights[0]}"] if weights else [])
        return f"at layer {found.group(2)} ({'; '.join([found.group(1), *shapes])})"

    def __init__(self, path, threads: int = DEFAULT_THREADS, engine: str = "new"):
        super().__init__(path, threads)
        if engine not in ("auto", *ENGINES):
            raise UserError(f"unknown OpenCV engine {engine!r}; choose auto, new or classic")
        self.engine = engine

    def _load(self):
        import cv2

        cv2.setNumThreads(self.threads)
        engine = getattr(cv2.dnn, f"ENGINE_{self.engine.upper()}")
        suffix = self.path.suffix.lower()
        if suffix == ".onnx":
            from deploytool.core.untrusted import check_onnx_external_data

            check_onnx_external_data(self.path)
        try:
            if suffix == ".onnx":
                self.net = cv2.dnn.readNetFromONNX(str(self.path), engine)
            elif suffix == ".tflite":
                self.net = cv2.dnn.readNetFromTFLite(str(self.path), engine)
            elif suffix == ".pb":  # with its text graph as OpenCV's docs pair them, if written
                config = self.path.with_suffix(".pbtxt")
                self.net = cv2.dnn.readNetFromTensorflow(
                    str(self.path), str(config) if config.exists() else "", engine)
            else:
                raise UserError(f"{self.path}: OpenCV dnn runs .onnx, .tflite and .pb files")
        except cv2.error as exc:
            raise RuntimeError(f"cannot load: {_last_line(exc)}") from None
        described = self._read_file()
        self._layout, self._shape = self._declared_input(described)
        self.inputs = [TensorInfo("input", (-1, *self._shape_in_layout()), "float32")]
        self._layers = self._output_layers(described)
        self.outputs = [TensorInfo(name, (-1, -1), "float32") for name, _ in self._layers]

    def _read_file(self):
        """What the file itself says of its inputs and outputs, read once: the ONNX graph, the
        .tflite loaded in LiteRT (its signature names the outputs), or the .pb's nodes."""
        suffix = self.path.suffix.lower()
        if suffix == ".onnx":
            import onnx

            return onnx.load(str(self.path), load_external_data=False).graph
        if suffix == ".tflite":
            from deploytool.runtimes.tflite_runner import TFLiteRunner

            return TFLiteRunner(self.path).load()
        from deploytool.converters.targets.pb.graph_reader import read_graph

        return read_graph(self.path.read_bytes())

    def _output_layers(self, described) -> list[tuple[str, str | None]]:
        """(output name, OpenCV layer that computes it) of every output of the artifact; one
        output is the Net's default (None). OpenCV names the outputs of an ONNX file as the file
        does, a .tflite's by tensor name (the signature gives each its Keras name) and a .pb's
        by the op that computes it (its importer drops the Identity deploytool names them by)."""
        suffix = self.path.suffix.lower()
        if suffix == ".onnx":
            pairs = [(output.name, output.name) for output in described.output]
        elif suffix == ".tflite":
            tensors = {d["index"]: d["name"] for d in described.interpreter.get_tensor_details()}
            pairs = [(name, tensors[detail["index"]]) for name, detail in described._output_details]
        else:
            from deploytool.converters.targets.pb.graph_reader import graph_endpoints

            pairs = [(node.name, node.name) for node in graph_endpoints(described)[1]]
            if len(pairs) > 1:
                pairs = self._producing_layers(described, [name for name, _ in pairs])
        return [(pairs[0][0], None)] if len(pairs) == 1 else pairs

    def _producing_layers(self, nodes, outputs: list[str]) -> list[tuple[str, str]]:
        """For each output node of a graph, the nearest op up its first-input chain that OpenCV
        lists as an output layer (it fuses the Identity, BiasAdd and activations it meets)."""
        layers = set(self.net.getUnconnectedOutLayersNames())
        first_input = {node.name: node.inputs[0].split(":")[0] for node in nodes if node.inputs}
        pairs = []
        for output in outputs:
            name = output
            while name not in layers and name in first_input:
                name = first_input[name]
            if name not in layers:
                raise RuntimeError(f"cannot find which OpenCV layer computes the output {output}")
            pairs.append((output, name))
        return pairs

    def _declared_input(self, described):
        """The input's layout and (H, W, C), as the file itself declares it."""
        if self.path.suffix.lower() == ".tflite":
            return "NCHW", tuple(described.input_shape)  # importer wants NCHW
        if self.path.suffix.lower() == ".pb":
            from deploytool.converters.targets.pb.graph_reader import graph_endpoints

            inputs, _ = graph_endpoints(described)
            return "NCHW", tuple(int(d) for d in inputs[0].shape[1:])  # importer wants NCHW
        dims = described.input[0].type.tensor_type.shape.dim
        shape = tuple(d.dim_value or None for d in dims[1:])  # None: a free size
        if shape[0] in (1, 3) and shape[-1] not in (1, 3):
            return "NCHW", (shape[1], shape[2], shape[0])
        return "NHWC", shape

    def _shape_in_layout(self):
        height, width, channels = self._shape
        return (channels, height, width) if self._layout == "NCHW" else (height, width, channels)

    @property
    def input_layout(self) -> str:
        """The layout fed to the importer: NCHW or NHWC."""
        self.load()
        return self._layout

    @property
    def input_shape(self):
        return self._shape

    def _prepare(self, images):
        return [np.ascontiguousarray(image[None].transpose(0, 3, 1, 2) if self._layout == "NCHW"
                                     else image[None]) for image in images]

    def _run(self, prepared):
        import cv2

        layers = [layer for _, layer in self._layers]
        results = [[] for _ in layers]
        for blob in prepared:
            try:
                self.net.setInput(blob)
                produced = [self.net.forward()] if layers == [None] else self.net.forward(layers)
            except cv2.error as exc:
                raise RuntimeError(f"failed to run: {_last_line(exc)}") from None
            for found, values in zip(results, produced):
                found.append(self._as_nhwc(np.asarray(values, np.float32)))
        return [np.concatenate(found) for found in results]

    def _as_nhwc(self, values: np.ndarray) -> np.ndarray:
        """One image's output as (1, values), or (1, H, W, C) for a map: the TFLite and TensorFlow
        importers compute NCHW whatever the file says."""
        if values.ndim == 4 and self._layout == "NCHW" and self.path.suffix.lower() != ".onnx":
            return values.transpose(0, 2, 3, 1)
        return values.reshape(1, -1) if values.ndim != 4 else values

    def profile(self, images: np.ndarray, runs: int = 20) -> list[dict]:
        """OpenCV's per-layer timings (``Net.getPerfProfile``) of the engine this runner uses."""
        import cv2

        self.load()
        blob = self._prepare(self._checked(images[:1]))[0]
        names = list(self.net.getLayerNames())
        calls = []
        for index in range(runs + 1):
            self.net.setInput(blob)
            self.net.forward()
            _, timings = self.net.getPerfProfile()
            timings = np.asarray(timings, np.float64).reshape(-1)
            if index and len(timings) == len(names):
                calls.append(timings)
        if not calls or not np.any(calls):
            raise UserError(f"OpenCV's {self.engine} engine gave no per-layer timings for "
                            f"{self.path.name}")
        milliseconds = np.median(calls, axis=0) / cv2.getTickFrequency() * 1e3
        return [{"name": name, "op": self.net.getLayer(self.net.getLayerId(name)).type,
                 "ms": float(ms)} for name, ms in zip(names, milliseconds)]


def opencv_layer_outputs(path, images: np.ndarray) -> dict[str, tuple[str, np.ndarray]]:
    """Every layer's output in OpenCV's CLASSIC engine (the NEW one refuses several named outputs)
    over ``images`` (NHWC float32), {name: (OpenCV layer type, values (N, ...))}, in OpenCV's
    order and named as the file's own runtime names the tensor: an ONNX node's name (OpenCV
    says ``onnx_node!<name>``), a .tflite tensor's (an activation OpenCV splits off a fused op,
    ``<tensor>/activ``, is that tensor) or a .pb node's; maps the TFLite and TensorFlow importers
    compute NCHW come back NHWC."""
    import cv2

    runner = OpenCVRunner(path, engine="classic").load()
    net = runner.net
    names = list(net.getLayerNames())
    types = {name: net.getLayer(net.getLayerId(name)).type for name in names}
    found = {name: [] for name in names}
    for blob in runner._prepare(images):
        try:
            net.setInput(blob)
            outputs = net.forward(names)
        except cv2.error as exc:
            raise RuntimeError(f"failed to run: {_last_line(exc)}") from None
        for name, values in zip(names, outputs):
            values = np.asarray(values, np.float32)
            if values.ndim == 4 and runner.path.suffix.lower() != ".onnx":
                values = values.transpose(0, 2, 3, 1)
            found[name].append(values)
    renamed = {}
    for name in names:
        own = name.removeprefix("onnx_node!").removesuffix("/activ")
        if name.endswith("/activ") or own not in renamed:  # the activation replaces its op's output
            renamed[own] = (types[name], np.concatenate(found[name]))
    return renamed
