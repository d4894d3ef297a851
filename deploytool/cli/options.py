"""Options more than one command takes, written once: parsers for shapes and number lists, the
preprocessing options, the zoo-model options, ``--json``, ``--backend`` (its choices from the
runtime registry), and the flags every export target contributes from its own options.

Options that belong together come as a group (:func:`option_group`): the command receives one
value built from them (the preprocessing record, the model source's arguments, the budget, the
target's options) instead of one parameter per flag."""

from __future__ import annotations

import functools
from pathlib import Path

import click


def parse_shape(ctx, param, value):
    """Click callback: "224,224,3" -> (224, 224, 3)."""
    if value is None:
        return None
    try:
        shape = tuple(int(part) for part in value.replace("x", ",").split(","))
    except ValueError:
        raise click.BadParameter(f"expected HEIGHT,WIDTH,CHANNELS, got {value!r}") from None
    if len(shape) != 3 or min(shape) < 1:
        raise click.BadParameter(f"expected three positive sizes HEIGHT,WIDTH,CHANNELS, got {value!r}")
    return shape


def dataset_name(ctx, param, value):
    """Click callback: a data set the user named, checked before any work (an unknown name, a
    missing folder, a built-in name that is also a folder here are one-line errors) and
    ``builtin:NAME`` resolved; a .npy file and the option's own default pass as they are."""
    from click.core import ParameterSource

    from deploytool.sources.datasets import check_dataset_name, is_array_file

    if value is None or is_array_file(value) or \
            ctx.get_parameter_source(param.name) == ParameterSource.DEFAULT:
        return value
    return check_dataset_name(value)


def refuse_unless(applies: bool, names, why: str) -> None:
    """Refuse, in one line naming the first, options the user gave on the command line (``names``:
    parameter names) when they do not apply here (``applies`` False): an option that would be
    silently ignored is an error."""
    from click.core import ParameterSource

    from deploytool.core.errors import UserError

    if applies:
        return
    ctx = click.get_current_context()
    for name in names:
        if ctx.get_parameter_source(name) not in (None, ParameterSource.DEFAULT):
            flag = next(param.opts[0] for param in ctx.command.params if param.name == name)
            raise UserError(f"{flag} {why}")


def parse_floats(ctx, param, value):
    """Click callback: "123.675,116.28,103.53" -> (123.675, 116.28, 103.53)."""
    if value is None:
        return None
    try:
        return tuple(float(part) for part in value.split(","))
    except ValueError:
        raise click.BadParameter(f"expected numbers separated by commas, got {value!r}") from None


def apply(function, options):
    """``function`` decorated with ``options`` in the order listed."""
    for option in reversed(options):
        function = option(function)
    return function


def option_group(name: str, options, make=lambda **values: values):
    """A decorator adding click ``options`` to a command that receives their values as one
    argument, ``name`` = ``make(**values)`` (by default the dict of values by parameter name).
    Which option the user gave stays known to click's context (:func:`refuse_unless`)."""
    def parameter_names() -> list[str]:
        def probe():
            pass
        return [param.name for param in apply(probe, options).__click_params__]

    def decorate(function):
        names = parameter_names()

        @functools.wraps(function)
        def command(*args, **kwargs):
            kwargs[name] = make(**{key: kwargs.pop(key) for key in names})
            return function(*args, **kwargs)
        return apply(command, options)
    return decorate


def preprocess_options(function):
    """The --preprocess/--mean/--std/--channel-order/--resize options, given to the command as
    ``preprocess`` (the dict load_source and TrainOptions take): what input the model expects."""
    from deploytool.core.preprocessing import ALIASES, FITS, PRESETS

    presets = ", ".join(f"{name}" for name in [*PRESETS, *ALIASES])
    return option_group("preprocess", [
        click.option("--preprocess", "preset", metavar="PRESET",
                     help=f"The input the model expects: {presets} (default: 0..1, or what "
                          "a run folder recorded)."),
        click.option("--mean", callback=parse_floats, metavar="M[,M,M]",
                     help="Per-channel mean in pixel units (0..255), subtracted first."),
        click.option("--std", callback=parse_floats, metavar="S[,S,S]",
                     help="Per-channel std in pixel units (0..255), divided by after the mean."),
        click.option("--channel-order", type=click.Choice(["rgb", "bgr"], case_sensitive=False),
                     help="Colour channel order the model takes (caffe-style models: bgr)."),
        click.option("--resize", "fit", type=click.Choice(list(FITS)),
                     help="How an image of another aspect ratio meets the model's size: squash "
                          "(resize as it is; the default), crop (centre-crop to the model's "
                          "aspect first) or pad (pad with black to it first); recorded in the "
                          "manifest and done the same way by the Android app."),
    ], make=preprocess_dict)(function)


def preprocess_dict(preset=None, mean=None, std=None, channel_order=None, fit=None) -> dict:
    """The preprocessing options as load_source takes them."""
    return {"preset": preset, "mean": mean, "std": std,
            "channel_order": channel_order.upper() if channel_order else None, "fit": fit}


def width_option(**kwargs):
    """--width: the zoo models' channel-width multiplier."""
    return click.option("--width", show_default=True, type=click.FloatRange(min=0, min_open=True),
                        **{"default": 1.0, **kwargs})


def model_source_options(function):
    """--weights, --input-shape, --num-classes, --width, --labels and --unsafe, given to the
    command as ``source_args`` (load_source's keyword arguments): how a zoo model is built (and
    the size a model file with free dimensions is fixed at), its labels, and whether code in a
    model file may run."""
    return option_group("source_args", [
        click.option("--weights", type=click.Path(dir_okay=False), help="Weights for a zoo model."),
        click.option("--input-shape", callback=parse_shape, metavar="H,W,C",
                     help="A zoo model's input size (default 224,224,3), or the fixed size to "
                          "convert a model file with free dimensions (None, None, C) at."),
        click.option("--num-classes", default=1000, show_default=True,
                     type=click.IntRange(min=1), help="Zoo models: classes."),
        width_option(help="Zoo models: channel-width multiplier."),
        click.option("--labels", "labels", type=click.Path(dir_okay=False), metavar="FILE",
                     help="The model's class names, one per line: kept in the manifest for "
                          "verify, bundle and the app."),
        click.option("--unsafe", is_flag=True,
                     help="Allow model files whose Lambda/custom layers run code."),
    ])(function)


def budget_options(function):
    """--max-drop, --min-cosine (with --cosine-share) and --min-agreement, given to the command
    as ``budget``: a checked :class:`~deploytool.workflows.quantization.budget_criteria.Budget`,
    or None when none of them was given."""
    def make(max_drop, min_cosine, cosine_share, min_agreement):
        from deploytool.core.errors import UserError
        from deploytool.workflows.quantization.budget_criteria import Budget

        if cosine_share is not None and min_cosine is None:
            raise UserError("--cosine-share says how many images --min-cosine C holds for: give "
                            "--min-cosine too")
        if (max_drop, min_cosine, min_agreement) == (None, None, None):
            return None
        budget = Budget(max_drop, min_cosine, min_agreement,
                        *([cosine_share] if cosine_share is not None else []))
        budget.check()
        return budget

    return option_group("budget", [
        click.option("--max-drop", type=float, metavar="POINTS",
                     help="int8 accuracy budget: at most this many top-1 points below float on "
                          "held-out labelled images."),
        click.option("--min-cosine", type=float, metavar="C",
                     help="int8 accuracy budget without labels: a cosine of at least C with "
                          "float on at least --cosine-share of the images, shown by the 95 % "
                          "lower bound over the held-out images."),
        click.option("--cosine-share", type=float, metavar="P",
                     help="The share of images --min-cosine C promises (default 0.95: at least "
                          "95 % of images at cosine >= C)."),
        click.option("--min-agreement", type=float, metavar="F",
                     help="The same top-1 decision as float on at least this fraction of the "
                          "held-out images."),
    ], make=make)(function)


def json_option(what: str = "JSON"):
    """--json: machine-readable output instead of tables."""
    return click.option("--json", "as_json", is_flag=True, help=f"Print {what}.")


def backend_option(function):
    """--backend: one registered runtime, or all."""
    from deploytool.runtimes.base import artifact_runtimes

    return click.option("--backend", type=click.Choice(["all", *artifact_runtimes()]),
                        default="all", show_default=True)(function)


def target_options(function):
    """One flag per field of every export target's options (``--int8-io``, ``--opset``,
    ``--nchw``, ...), given to the command as ``target_values``: the ones the user gave, by
    field name."""
    from deploytool.converters.targets.registry import targets

    options = []
    for chosen in targets().values():
        for flag, field in chosen.options_type.flags().items():
            meta, label = field.metadata, f"{chosen.label}: {field.metadata['help']}"
            default = f" [default: {field.default}]" if not isinstance(field.default, bool) else ""
            if isinstance(field.default, bool):
                options.append(click.option(flag, field.name, is_flag=True, default=None, help=label))
            elif meta["choices"]:
                options.append(click.option(flag, field.name, type=click.Choice(meta["choices"]),
                                            help=label + default))
            elif meta["bounds"]:
                options.append(click.option(flag, field.name, type=click.IntRange(*meta["bounds"]),
                                            help=label + default))
            else:
                options.append(click.option(flag, field.name, type=type(field.default),
                                            help=label + default))
    return option_group("target_values", options, make=given_target_options)(function)


def given_target_options(**values) -> dict:
    """The target flags (``target_options``' parameters) the user gave, by field name."""
    return {name: value for name, value in values.items() if value is not None}


def default_run_folder(model: str, data: str, suffix: str = "") -> str:
    """runs/MODEL-DATA[SUFFIX], with a folder data set's path flattened into the name."""
    name = data.replace("folder:", "").replace("images:", "").strip("/").replace("/", "_") or "data"
    return f"runs/{Path(model).name}-{name}{suffix}"


def cluster_options(command):
    """``--ray-address`` and ``--serial``: where a page's cells run (its ``address`` and
    ``serial`` parameters)."""
    command = click.option(
        "--serial", is_flag=True,
        help="Run the cells one after another on this machine, without Ray.")(command)
    return click.option(
        "--ray-address", "address", envvar="RAY_ADDRESS", metavar="ADDRESS",
        help="Run the cells on the Ray cluster at ADDRESS (host:port of its head; default "
             "$RAY_ADDRESS, else a local Ray instance on this machine's CPUs). Every node needs "
             "the README's set-up and the --artifacts folder's path writable.")(command)
