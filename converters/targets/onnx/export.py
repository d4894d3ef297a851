"""Export a Keras model to ONNX with tf2onnx: one float input named 'input', every TensorFlow op
converted or the layer that was not named in one line."""

from __future__ import annotations

import contextlib
import logging
import os
import traceback

import numpy as np
from deploytool.converters.failures import ConversionError, conversion_failure
from deploytool.converters.targets.onnx.inputs import INPUT_NAME
from deploytool.converters.targets.onnx.names import counters_renumbered, initializers_sorted
from deploytool.converters.targets.onnx.repeatable import (ONE_CONVERSION_AT_A_TIME,
                                                        repeatable_conversion)
from deploytool.converters.tracing import frozen_graph, input_spec, plain_grouped_convolutions

from deploytool.core.model_outputs import output_names
from deploytool.core.quiet import native_output_silenced

_ERFC_REGISTERED = []
CATCH_ERRORS = "TF2ONNX_CATCH_ERRORS"  # tf2onnx.constants.ENV_TF2ONNX_CATCH_ERRORS


def register_erfc() -> None:
    """Teach tf2onnx TensorFlow's Erfc (what exact GELU, ``tf.nn.gelu(approximate=False)``,
    computes with: 0.5 x erfc(-x / sqrt 2)) as 1 - Erf(x); tf2onnx 1.17 converts Erf only."""
    if _ERFC_REGISTERED:
        return
    from tf2onnx import utils
    from tf2onnx.handler import tf_op

    @tf_op("Erfc")
    class Erfc:  # noqa: F841 - registered by the decorator
        @classmethod
        def version_9(cls, ctx, node, **kwargs):
            dtype = utils.map_onnx_to_numpy_type(ctx.get_dtype(node.input[0]))
            one = ctx.make_const(utils.make_name("erfc_one"), np.array(1, dtype))
            erf = ctx.make_node("Erf", [node.input[0]], op_name_scope=node.name)
            outputs, shapes, dtypes = node.output, ctx.get_shape(node.output[0]), ctx.get_dtype(node.output[0])
            ctx.remove_node(node.name)
            ctx.make_node("Sub", [one.output[0], erf.output[0]], outputs=outputs, name=node.name,
                          shapes=[shapes], dtypes=[dtypes])

    _ERFC_REGISTERED.append(True)


@contextlib.contextmanager
def node_protos_rebuilt():
    """tf2onnx's ``Node.update_proto`` (run on every node after each of its graph optimizers)
    clears a node's attributes and adds them again; with protobuf's upb backend a cleared field's
    memory stays in the message's arena until the whole message goes, so each round kept another
    copy of every weight: VGG-11 at 224x224 (531 MB of weights) grew past 24 GiB and was killed.
    Here each update starts from a new NodeProto, and the old one's arena is freed with it."""
    from onnx import NodeProto
    from tf2onnx.graph import Node

    original = Node.update_proto

    def update_proto(self, external_tensor_storage=None):
        old = self._op
        self._op = NodeProto(name=old.name, op_type=old.op_type, domain=old.domain,
                             doc_string=old.doc_string)
        original(self, external_tensor_storage)

    Node.update_proto = update_proto
    try:
        yield
    finally:
        Node.update_proto = original


@contextlib.contextmanager
def optimizers_in_place():
    """tf2onnx's graph optimizers run on the graph itself; its default deep-copies the whole graph,
    weights included, before every optimizer of every round so that a failing one can be skipped,
    and the copies wait for the garbage collector."""
    previous = os.environ.get(CATCH_ERRORS)
    os.environ[CATCH_ERRORS] = "FALSE"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(CATCH_ERRORS, None)
        else:
            os.environ[CATCH_ERRORS] = previous


def export_onnx(model, opset: int, nchw_input: bool = False):
    """Convert ``model`` (tf_keras, or stock Keras 3 through its traced inference function) to an
    ONNX ModelProto with one float input named 'input' (NHWC, or NCHW with ``nchw_input``).
    Memory: VGG-11 at 224x224 (531 MB of weights) grew past this machine's 24 GiB in tf2onnx's
    optimizers and was killed; with :func:`node_protos_rebuilt` and :func:`optimizers_in_place`
    it peaks near 13 GiB (in TensorFlow's freezing, before them) and ends at 7.5. Should an
    optimizer fail in place, the conversion runs again tf2onnx's default way, which skips it.
    Conversions in other threads wait for it."""
    with ONE_CONVERSION_AT_A_TIME:  # its patches of tf2onnx are the whole process's
        try:
            with node_protos_rebuilt(), optimizers_in_place():
                return _export_onnx(model, opset, nchw_input)
        except Exception as exc:
            if not failed_in_an_optimizer(exc):
                raise
        with node_protos_rebuilt():
            return _export_onnx(model, opset, nchw_input)


def failed_in_an_optimizer(exc: BaseException) -> bool:
    """Whether ``exc`` (or the error it wraps) was raised inside one of tf2onnx's optimizers."""
    cause = exc.__cause__ or exc
    return any(f"tf2onnx{os.sep}optimizer" in frame.f_code.co_filename
               for frame, _ in traceback.walk_tb(cause.__traceback__))


def _export_onnx(model, opset: int, nchw_input: bool):
    import tf2onnx

    from deploytool.core.keras_env import is_keras3_model

    signature = (input_spec(model, None, INPUT_NAME),)
    nchw = [INPUT_NAME] if nchw_input else None
    logging.getLogger("tf2onnx").setLevel(logging.CRITICAL)
    try:
        register_erfc()
        if is_keras3_model(model):  # the inference function Keras 3 itself traces and exports
            graph_def, inputs, outputs = frozen_graph(model, batch=None)
            with repeatable_conversion(), native_output_silenced(stdout=True):
                proto, _ = tf2onnx.convert.from_graph_def(
                    graph_def, input_names=inputs, output_names=outputs, opset=opset,
                    inputs_as_nchw=[inputs[0]] if nchw_input else None)
            proto.graph.input[0].name = INPUT_NAME
            for node in proto.graph.node:
                node.input[:] = [INPUT_NAME if name == inputs[0] else name for name in node.input]
        else:
            with plain_grouped_convolutions(model), repeatable_conversion(), \
                    native_output_silenced(stdout=True):
                proto, _ = tf2onnx.convert.from_keras(
                    model, input_signature=signature, opset=opset, inputs_as_nchw=nchw)
    except Exception as exc:
        raise conversion_failure(exc, model, "tf2onnx") from exc
    check_onnx_ops(proto, model)
    counters_renumbered(proto)
    initializers_sorted(proto)
    if len(proto.graph.output) > 1:
        name_outputs(proto, output_names(model))
    return proto


def name_outputs(proto, names: list[str]) -> None:
    """Give the graph's outputs (in the model's order, as they were asked of tf2onnx) the names of
    the Keras outputs they compute, so that every reader pairs them by name."""
    current = [output.name for output in proto.graph.output]
    if current == names:
        return
    renamed = dict(zip(current, names))
    for node in proto.graph.node:
        node.output[:] = [renamed.get(name, name) for name in node.output]
        node.input[:] = [renamed.get(name, name) for name in node.input]
    for output in proto.graph.output:
        output.name = renamed[output.name]


def check_onnx_ops(proto, model) -> None:
    """Refuse a graph in which tf2onnx left TensorFlow ops that are no ONNX operator (it keeps
    what it cannot convert, and the file then fails to load): one line naming the layer."""
    import onnx

    initializers = {tensor.name for tensor in proto.graph.initializer}
    extra = [i.name for i in proto.graph.input if i.name not in initializers][1:]
    if extra:
        raise ConversionError(f"tf2onnx left {len(extra)} captured tensor(s) as extra graph "
                              f"inputs ({', '.join(extra[:3])}); the model cannot run on images alone")
    for node in proto.graph.node:
        if node.domain in ("", "ai.onnx") and (
                node.op_type in ("PartitionedCall", "StatefulPartitionedCall") or
                not onnx.defs.has(node.op_type)):
            raise conversion_failure(
                RuntimeError(f"TensorFlow op {node.op_type} ({node.name}) has no ONNX "
                             "equivalent in tf2onnx"), model, "tf2onnx")
