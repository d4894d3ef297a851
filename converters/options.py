"""What one conversion is asked to do: :class:`ConvertOptions`, the settings every format shares
plus the target's own (:class:`~deploytool.converters.targets.registry.TargetOptions`).

One vocabulary for precision (fp32, fp16, dynamic, int8) from the CLI flags to the manifest.
The manifest's ``settings`` record is :meth:`ConvertOptions.to_record`, and
:meth:`ConvertOptions.from_record` rebuilds the very conversion from it: diagnose, the budget,
the pipeline and the matrices never rebuild one by hand.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from deploytool.converters.targets.registry import TargetOptions, target, targets

from deploytool.core.compare import OUTPUT_KINDS
from deploytool.core.errors import UserError
from deploytool.sources.calibration import DEFAULT_CALIBRATION_SAMPLES
from deploytool.sources.datasets import DataChoice, pick_data

PRECISIONS = ("fp32", "fp16", "dynamic", "int8")
# the record's name of a field where it differs from the attribute's
RECORD_NAMES = {"fold": "fold_batchnorm"}
NOT_RECORDED = {"out_dir", "target_options"}  # where the artifact goes is not how it was made


@dataclass
class ConvertOptions:
    """Settings of one conversion (every one of them but ``out_dir`` lands in the manifest).
    ``target_options`` holds the settings only ``to``'s format has; None takes its defaults."""

    to: str = "tflite"
    precision: str = "fp32"  # fp32 | fp16 | dynamic | int8
    calib_data: str | None = None
    calib_samples: int = DEFAULT_CALIBRATION_SAMPLES
    calibration_method: str = "minmax"  # where the target offers it: minmax | percentile | entropy
    fold: bool = True
    keep_softmax: bool | None = None  # None: kept in float files, detached from int8 ones
    qat: bool = False
    qat_epochs: int = 1
    seed: int = 0
    keep_float: list[str] = field(default_factory=list)  # tensors left in float in an int8 model
    drop_outputs: list[str] = field(default_factory=list)  # outputs the user leaves out
    output_kinds: dict[str, str] = field(default_factory=dict)  # how outputs are judged, by name
    target_options: TargetOptions | None = None
    out_dir: Path = Path("artifacts")

    def __post_init__(self):
        if self.target_options is None:
            self.target_options = target(self.to).options_type()

    @classmethod
    def create(cls, to: str = "tflite", **values) -> "ConvertOptions":
        """Options for ``to`` from keyword values, the target's own (``opset=13``) among the
        shared ones; a setting of another format is a one-line error naming the format it
        belongs to."""
        own_type = target(to).options_type
        own = {f.name for f in dataclasses.fields(own_type)}
        shared = {f.name for f in dataclasses.fields(cls)} - {"to", "target_options"}
        for key in values:
            if key in own or key in shared:
                continue
            owner = next((t for t in targets().values()
                          if key in {f.name for f in dataclasses.fields(t.options_type)}), None)
            if owner is None:
                raise TypeError(f"ConvertOptions has no setting {key!r}")
            flag = next(flag for flag, f in owner.options_type.flags().items() if f.name == key)
            raise UserError(f"{flag} applies to --to {owner.name}, not --to {to}")
        target_values = {key: values.pop(key) for key in list(values) if key in own}
        return cls(to=to, target_options=own_type(**target_values), **values)

    def check(self) -> None:
        """Refuse combinations no exporter offers, with the alternative."""
        chosen = target(self.to)
        if self.precision not in PRECISIONS:
            raise UserError(f"unknown precision {self.precision!r}; choose {', '.join(PRECISIONS)}")
        if self.precision not in chosen.precisions:
            offering = [t.name for t in targets().values() if self.precision in t.precisions]
            raise UserError(f"--{self.precision} is not offered for {self.to}: {chosen.label} "
                            f"exports {' or '.join(chosen.precisions)}; use --to "
                            f"{' or '.join(offering)} for {self.precision}")
        if not isinstance(self.target_options, chosen.options_type):
            raise UserError(f"{type(self.target_options).__name__} are not {chosen.label} options")
        for flag, option in chosen.options_type.flags().items():
            value = getattr(self.target_options, option.name)
            choices, bounds = option.metadata["choices"], option.metadata["bounds"]
            if choices and value not in choices:
                raise UserError(f"{flag} must be {' or '.join(choices)}, got {value!r}")
            if bounds and not bounds[0] <= value <= bounds[1]:
                raise UserError(f"{flag} must lie in {bounds[0]}..{bounds[1]}, got {value!r}")
        chosen.check(self)
        if self.calibration_method not in chosen.calibration_methods:
            raise UserError(f"calibration method {self.calibration_method!r} is not offered for "
                            f"{self.to}; choose {', '.join(chosen.calibration_methods)}")
        if self.calib_samples < 1:
            raise UserError(f"--calib-samples must be at least 1, got {self.calib_samples}")
        if self.qat and (not chosen.quantization_aware or self.precision != "int8"):
            offering = [t for t in targets().values() if t.quantization_aware]
            raise UserError(f"--qat produces a full-int8 {' or '.join(t.label for t in offering)} "
                            f"model: use it with --to {' or '.join(t.name for t in offering)} --int8")
        bad = {name: kind for name, kind in self.output_kinds.items() if kind not in OUTPUT_KINDS}
        if bad:
            name, kind = next(iter(bad.items()))
            raise UserError(f"--output-kind {name}={kind}: choose {', '.join(OUTPUT_KINDS)}")
        if self.qat and self.qat_epochs < 1:
            raise UserError(f"--qat-epochs must be at least 1, got {self.qat_epochs}")

    @property
    def detaches_softmax(self) -> bool:
        """Whether a final softmax leaves the exported graph for post-processing: asked for
        (``keep_softmax=False``), or by default in a full-int8 file (QAT included), where a
        softmax output has the fixed scale 1/256 and erases every probability under 0.2 %.
        A float file keeps it, so that the clients apps use report probabilities."""
        if self.qat:
            return True
        if self.keep_softmax is None:
            return self.precision == "int8"
        return not self.keep_softmax

    def data_for(self, source) -> "DataChoice":
        """The images a conversion of ``source`` calibrates, checks, fine-tunes (QAT) and judges
        a budget on: ``--calib-data``, else the model's own data set, else the offline default
        for its channels (:func:`~deploytool.sources.datasets.pick_data`)."""
        return pick_data(self.calib_data, source.dataset, channels=source.preprocessing.channels)

    def to_record(self) -> dict:
        """Plain-JSON form, as the manifest's ``settings``: the shared settings (calibration
        ones only for int8, the QAT epochs only with QAT) and the target's own."""
        record = {RECORD_NAMES.get(f.name, f.name): getattr(self, f.name)
                  for f in dataclasses.fields(self) if f.name not in NOT_RECORDED}
        record["keep_float"] = list(self.keep_float)
        record["drop_outputs"] = list(self.drop_outputs)
        record["output_kinds"] = dict(self.output_kinds)
        if self.precision != "int8":
            record["calibration_method"] = None
        if not self.qat:
            record["qat_epochs"] = None
        return {**record, **self.target_options.to_record()}

    @classmethod
    def from_record(cls, record: dict, **changes) -> "ConvertOptions":
        """The options a :meth:`to_record` dict describes, with ``changes`` applied (``out_dir``
        among them); a record without a known target or precision is a one-line error."""
        names = {RECORD_NAMES.get(f.name, f.name): f.name for f in dataclasses.fields(cls)
                 if f.name not in NOT_RECORDED}
        values = {names[key]: value for key, value in (record or {}).items()
                  if key in names and value is not None}
        if "to" not in values or "precision" not in values:
            raise UserError("the manifest's settings name no target and precision")
        values["keep_float"] = list(values.get("keep_float") or [])
        values["drop_outputs"] = list(values.get("drop_outputs") or [])
        values["output_kinds"] = dict(values.get("output_kinds") or {})
        values["target_options"] = target(values["to"]).options_type.from_record(record)
        options = cls(**values)
        return dataclasses.replace(options, **changes) if changes else options
