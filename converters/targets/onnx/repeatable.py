"""tf2onnx made to convert a model the same way however many conversions came before it.

Its graph optimizers decide by the order in which they meet nodes, and two things set that order
from outside the model:

- the name counter (``NAME__N``), global to the process: the topological sort orders nodes by
  name, and ``Transpose__99`` sorts after ``Transpose__100``;
- sets of graph nodes, which Python orders by each node's address in memory.

A quarter-width NiN at 28x28 (whose 1x1 feature maps make many of its transposes Reshapes) kept
8 Reshapes in one conversion and 7 in another, in one process; a matrix run's nin and AlexNet
.onnx files (and AlexNet's int8 layers kept in float) changed from run to run. Within
:func:`repeatable_conversion` the counter starts where it does in a fresh process and nodes hash
by their names, so the same model gives the same graph.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
import zlib

FRESH_COUNTER = 1  # tf2onnx.utils.INTERNAL_NAME before its first conversion
# tf2onnx's counter (and this module's hash, and export's own patches) are the whole process's
ONE_CONVERSION_AT_A_TIME = threading.RLock()


def _hash_by_name(node) -> int:
    return zlib.crc32(node.name.encode())


@contextlib.contextmanager
def repeatable_conversion():
    """Run a tf2onnx conversion with its name counter restarted and its nodes hashed by name (a
    node's name does not change while it is in the graph; equality stays identity). Conversions
    in other threads wait for it."""
    from tf2onnx import utils
    from tf2onnx.graph import Node

    importlib.import_module("tf2onnx.rewriter.loop_rewriter_base")  # names a constant on import

    with ONE_CONVERSION_AT_A_TIME:
        utils.INTERNAL_NAME = FRESH_COUNTER
        own = Node.__dict__.get("__hash__")
        Node.__hash__ = _hash_by_name
        try:
            yield
        finally:
            if own is None:
                del Node.__hash__
            else:
                Node.__hash__ = own
