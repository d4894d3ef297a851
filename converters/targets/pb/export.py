"""A frozen TensorFlow GraphDef (.pb) for OpenCV's TensorFlow importer, the route users take with
``cv2.dnn.readNetFromTensorflow`` (and that fails on graphs with unfolded FusedBatchNormV3,
variables or functions).

The model arrives stripped, BatchNorm-folded and simplified (convert's passes); its inference
function is traced at batch 1 (static shapes: no shape arithmetic for the importer), every variable
and captured tensor frozen into a constant, grouped convolutions traced plain, and the graph
pruned for inference (Identity nodes bypassed, control edges dropped). Its structure is written
beside it as text (``.pbtxt``): every node but the constants, which stay in the .pb. That is the
config OpenCV's documented pairing takes, ``cv2.dnn.readNetFromTensorflow("m.pb", "m.pbtxt")``
(a text graph that still holds the constants, such as the whole graph or ``cv2.dnn.writeTextGraph``'s
output, defines each constant twice and fails in ``addConstNodes``), a few percent of the model's
size, and what users read and edit. TensorFlow runs the graph NHWC; OpenCV's importer takes an
NCHW blob.

The graph is read back without TensorFlow by :mod:`.graph_reader`.
"""

from __future__ import annotations

from deploytool.converters.failures import conversion_failure
from deploytool.converters.tracing import frozen_graph

from deploytool.core.errors import UserError
from deploytool.core.model_outputs import output_names


def export_frozen_graph(model) -> tuple[bytes, str]:
    """The frozen, pruned inference GraphDef of ``model`` at batch 1, binary, and its structure
    as text (:func:`structure_text`)."""
    try:
        graph_def, _, outputs = frozen_graph(model, batch=1)
        outputs = [name.split(":")[0] for name in outputs]
        graph_def = prune_for_inference(graph_def, outputs)
        graph_def = explicit_constants(graph_def)
        if len(outputs) > 1:
            graph_def = name_output_nodes(graph_def, outputs, output_names(model))
    except Exception as exc:
        raise conversion_failure(exc, model, "convert_variables_to_constants_v2") from exc
    functions = [node.op for node in graph_def.node if node.op.endswith("PartitionedCall")]
    if functions or graph_def.library.function:
        raise UserError("the frozen graph still calls TensorFlow functions "
                        f"({', '.join(sorted(set(functions)) or ['library functions'])}), "
                        "which OpenCV's TensorFlow importer cannot read")
    # deterministic: a node's attributes are a protobuf map, serialised in no fixed order
    # otherwise (the same graph converted twice gave two different files)
    return graph_def.SerializeToString(deterministic=True), structure_text(graph_def)


def structure_text(graph_def) -> str:
    """The graph without its Const nodes, in protobuf text form with a header saying what it is:
    the config OpenCV reads beside the frozen .pb."""
    from deploytool.core.keras_env import tf

    structure = tf.compat.v1.GraphDef()
    structure.node.extend(node for node in graph_def.node if node.op != "Const")
    return ("# deploytool: the structure of the frozen graph beside it, without its constants (they\n"
            "# are in the .pb): cv2.dnn.readNetFromTensorflow(\"m.pb\", \"m.pbtxt\")\n" + str(structure))


def name_output_nodes(graph_def, nodes: list[str], names: list[str]):
    """The graph with its output nodes (``nodes``, in the model's order) renamed to the Keras
    outputs they compute (``names``), so that readers pair outputs by name. A graph node that
    already has one of those names keeps it with a ``_node`` suffix."""
    renamed = dict(zip(nodes, names))
    for node in graph_def.node:
        if node.name not in renamed and node.name in names:
            renamed[node.name] = f"{node.name}_node"
    final = [renamed.get(node.name, node.name) for node in graph_def.node]
    if len(set(final)) != len(final):
        raise UserError(f"cannot name the graph's outputs {', '.join(names)}: the names clash "
                        "with its nodes")

    def rename(reference: str) -> str:
        name, colon, index = reference.partition(":")
        return renamed.get(name, name) + colon + index

    for node in graph_def.node:
        node.name = renamed.get(node.name, node.name)
        node.input[:] = [rename(reference) for reference in node.input]
    return graph_def


def prune_for_inference(graph_def, outputs: list[str]):
    """The graph with every Identity and IdentityN bypassed (freezing leaves an Identity after
    each former variable read, and OpenCV's importer loses constants behind them; IdentityN, from
    a custom-gradient function such as swish, is a layer it cannot create), control edges and
    NoOps dropped,
    and only what ``outputs`` need kept."""
    from deploytool.core.keras_env import tf

    alias = {node.name: node.input[0] for node in graph_def.node
             if node.op == "Identity" and node.name not in outputs
             and len([i for i in node.input if not i.startswith("^")]) == 1}

    # IdentityN (tf.custom_gradient's forward pass, e.g. swish) passes input k through as output k
    passes = {node.name: [i for i in node.input if not i.startswith("^")] for node in graph_def.node
              if node.op == "IdentityN" and node.name not in outputs}

    def resolve(reference: str) -> str:
        name, _, index = reference.partition(":")
        while (name in alias and index in ("", "0")) or name in passes:
            if name in passes:
                name, _, index = passes[name][int(index or 0)].partition(":")
            else:
                name, _, index = alias[name].partition(":")
        return f"{name}:{index}" if index not in ("", "0") else name

    pruned = tf.compat.v1.GraphDef()
    pruned.versions.CopyFrom(graph_def.versions)
    for node in graph_def.node:
        if node.name in alias or node.name in passes or node.op == "NoOp":
            continue
        copy = pruned.node.add()
        copy.CopyFrom(node)
        copy.ClearField("input")
        copy.input.extend(resolve(i) for i in node.input if not i.startswith("^"))
    return fold_constants(tf.compat.v1.graph_util.extract_sub_graph(pruned, outputs), outputs)


def fold_constants(graph_def, outputs: list[str]):
    """The graph with every node computed from constants alone replaced by the constant it
    computes (Keras 3 reshapes a depthwise kernel at run time; OpenCV's importer wants the
    kernel itself as a constant). Only single-output nodes read at output 0 are folded."""
    from deploytool.core.keras_env import tf

    constant = {node.name for node in graph_def.node if node.op == "Const"}
    multi_output = {ref.split(":")[0] for node in graph_def.node for ref in node.input
                    if ":" in ref and not ref.endswith(":0")}
    folded = []
    for node in graph_def.node:  # frozen graphs are in topological order
        if node.op in ("Const", "Placeholder") or node.name in outputs or node.name in multi_output:
            continue
        if node.input and all(ref.split(":")[0] in constant for ref in node.input):
            constant.add(node.name)
            folded.append(node.name)
    if not folded:
        return graph_def
    with tf.Graph().as_default() as graph:
        tf.compat.v1.import_graph_def(graph_def, name="")
        with tf.compat.v1.Session(graph=graph) as session:
            values = session.run([f"{name}:0" for name in folded])
    result = tf.compat.v1.GraphDef()
    result.versions.CopyFrom(graph_def.versions)
    computed = dict(zip(folded, values))
    for node in graph_def.node:
        copy = result.node.add()
        if node.name in computed:
            copy.name, copy.op = node.name, "Const"
            value = computed[node.name]
            copy.attr["dtype"].type = tf.as_dtype(value.dtype).as_datatype_enum
            copy.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))
        else:
            copy.CopyFrom(node)
    return tf.compat.v1.graph_util.extract_sub_graph(result, outputs)


def explicit_constants(graph_def):
    """The graph with every constant whose value TensorFlow stored compressed (a splat as one
    value, or all zeros as no value at all) written out in full as ``tensor_content``: the same
    values, but OpenCV's importer reads only full values and asserts on an empty field
    (``!field.empty() in function 'getTensorContentRef_'``: a Rescaling offset of 0, a Cropping2D
    slice's zero begin)."""
    from deploytool.core.keras_env import tf

    for node in graph_def.node:
        if node.op != "Const" or "value" not in node.attr:
            continue
        tensor = node.attr["value"].tensor
        if tensor.tensor_content or tensor.dtype == tf.string.as_datatype_enum:
            continue
        value = tf.make_ndarray(tensor)
        count = max(1, int(value.size))
        stored = max(len(getattr(tensor, field)) for field in
                     ("float_val", "double_val", "int_val", "int64_val", "bool_val", "half_val"))
        if stored == count and count > 1 or (stored == 1 and count == 1):
            continue
        shape = type(tensor.tensor_shape)()
        shape.CopyFrom(tensor.tensor_shape)
        dtype = tensor.dtype
        tensor.Clear()
        tensor.dtype, tensor.tensor_content = dtype, value.tobytes()
        tensor.tensor_shape.CopyFrom(shape)
    return graph_def
