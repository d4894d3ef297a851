"""ONNX metadata for every .onnx that convert writes: what a consumer needs in order to feed the
model and read its outputs, so that nobody has to be told by hand.

The metadata goes into ``ModelProto.metadata_props``, which ONNX Runtime shows as
``InferenceSession.get_modelmeta().custom_metadata_map``. It holds string pairs:

- the ONNX spec's image keys (MetadataProps.md), where they apply: ``Image.BitmapPixelFormat``
  (Rgb8, Bgr8, Gray8), ``Image.ColorSpaceGamma`` (SRGB), and ``Image.NominalPixelRange``
  (NominalRange_0_255, Normalized_0_1, Normalized_1_1), which is left out when the input is
  normalized some other way (ImageNet's mean and std);
- deploytool's keys (:data:`KEYS`), each value JSON: ``deploytool.model``, ``deploytool.labels``,
  ``deploytool.preprocessing`` (mean and std per channel in pixel units, channel order, input
  layout and size, the resize fit), ``deploytool.outputs`` (each output's kind),
  ``deploytool.postprocess`` and ``deploytool.version``.

The model's ``doc_string`` gets the one-sentence summary. :func:`read_metadata` reads all of it
back, as :func:`with_metadata` wrote it."""

from __future__ import annotations

import json

import deploytool
from deploytool.converters.targets.registry import ModelDescription

KEYS = ("deploytool.model", "deploytool.labels", "deploytool.preprocessing", "deploytool.outputs",
        "deploytool.postprocess", "deploytool.version")
PIXEL_FORMATS = {("RGB", 3): "Rgb8", ("BGR", 3): "Bgr8", ("RGB", 1): "Gray8", ("BGR", 1): "Gray8"}
# (mean, std) of one value for every channel -> the spec's name for the range the input then has
PIXEL_RANGES = {(0.0, 1.0): "NominalRange_0_255", (0.0, 255.0): "Normalized_0_1",
                (127.5, 127.5): "Normalized_1_1"}


def metadata_props(about: ModelDescription) -> dict[str, str]:
    """The metadata_props pairs that describe ``about``."""
    preprocessing = about.preprocessing
    mean, std = preprocessing.mean_std()
    props = {"Image.BitmapPixelFormat": PIXEL_FORMATS[(preprocessing.channel_order,
                                                       preprocessing.channels)],
             "Image.ColorSpaceGamma": "SRGB"}
    if len(set(mean)) == 1 and len(set(std)) == 1:
        pixel_range = PIXEL_RANGES.get((round(mean[0], 6), round(std[0], 6)))
        if pixel_range:
            props["Image.NominalPixelRange"] = pixel_range
    values = {
        "deploytool.model": {"name": about.name, "version": about.version,
                             "precision": about.precision},
        "deploytool.labels": about.labels,
        "deploytool.preprocessing": {
            "mean": list(mean), "std": list(std), "channel_order": preprocessing.channel_order,
            "channels": preprocessing.channels, "height": preprocessing.height,
            "width": preprocessing.width, "layout": about.input_layout, "pixel_range": [0, 255],
            "fit": preprocessing.fit, "formula": preprocessing.describe()},
        "deploytool.outputs": dict(about.outputs),
        "deploytool.postprocess": about.postprocess,
        "deploytool.version": deploytool.__version__}
    props.update({key: json.dumps(value) for key, value in values.items()})
    return props


def with_metadata(data: bytes, about: ModelDescription) -> tuple[bytes, dict]:
    """The .onnx ``data`` with ``about``'s metadata_props and summary, serialized again (the graph
    is untouched), and the manifest's record of what was written."""
    import onnx

    model = onnx.load_from_string(data)
    props = metadata_props(about)
    kept = [p for p in model.metadata_props if p.key not in props]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    for key, value in props.items():
        model.metadata_props.add(key=key, value=value)
    model.doc_string = about.summary
    record = {"written": True, "keys": sorted(props), "notes": []}
    return model.SerializeToString(deterministic=True), record


def read_metadata(model) -> dict:
    """The metadata of an ONNX ``model`` (a ModelProto): the spec's image keys as they are,
    deploytool's decoded from JSON, any other key as its string; and the doc string."""
    return {"props": {p.key: _decoded(p.value) if p.key in KEYS else p.value
                      for p in model.metadata_props},
            "doc_string": model.doc_string or None}


def _decoded(value: str):
    """A deploytool key's JSON value (its string where someone wrote it otherwise)."""
    try:
        return json.loads(value)
    except ValueError:
        return value
