"""Why LiteRT's default CPU path (XNNPACK, on phones as here) refuses an int8 file: a tensor that
was zero on every calibration image gets a range of about 2e-6 (scale ~8e-9), and the layers
that read it then ask for rescaling factors XNNPACK does not take ("failed to prepare"). Seen on
a random-weight LeNet at width 0.25 whose second convolution's ReLU was dead on every image.
:func:`require_loadable` names those tensors instead of leaving the interpreter's one line."""

from __future__ import annotations

from deploytool.core.quiet import native_output_silenced
from deploytool.converters.failures import ConversionError

# an activation whose int8 step is below this covers less than 2.6e-5 in all: zero, in effect
DEAD_SCALE = 1e-7


def dead_tensors(flatbuffer: bytes) -> list[tuple[str, float]]:
    """(name, scale) of every int8/uint8 tensor computed by the graph (weights left out) whose
    single quantization scale is below :data:`DEAD_SCALE`, read without delegates."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    with native_output_silenced():
        interpreter = Interpreter(
            model_content=flatbuffer,
            experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    computed = {index for op in interpreter._get_ops_details()  # noqa: SLF001
                for index in op["outputs"]}
    found = []
    for tensor in interpreter.get_tensor_details():
        scales = tensor["quantization_parameters"]["scales"]
        if tensor["index"] in computed and len(scales) == 1 and 0 < scales[0] < DEAD_SCALE:
            found.append((tensor["name"], float(scales[0])))
    return found


def require_loadable(flatbuffer: bytes) -> None:
    """Raise a one-line :class:`ConversionError` when LiteRT with its default delegate cannot
    load the int8 ``flatbuffer``, naming the tensors that were zero on every calibration image
    when there are any (the usual cause), else the interpreter's own reason."""
    from ai_edge_litert.interpreter import Interpreter

    try:
        with native_output_silenced():
            Interpreter(model_content=flatbuffer).allocate_tensors()
        return
    except Exception as exc:  # LiteRT raises RuntimeError or ValueError
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
    dead = dead_tensors(flatbuffer)
    if not dead:
        raise ConversionError(f"the int8 .tflite does not load in LiteRT ({reason})")
    name, scale = dead[0][0].split(";")[0], dead[0][1]  # the first op fused into it
    others = f" and {len(dead) - 1} more" if len(dead) > 1 else ""
    raise ConversionError(
        f"the int8 .tflite does not load in LiteRT's default CPU path, XNNPACK ({reason}): "
        f"{name}{others} was zero on every calibration image (int8 scale {scale:.1e}); calibrate "
        "on images the model responds to (--calib-data), or train the model first")
