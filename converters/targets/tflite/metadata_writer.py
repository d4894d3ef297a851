"""TFLite Model Metadata written and read with MediaPipe's own writer (``mediapipe.tasks.python.
metadata``), in MediaPipe's environment (:mod:`deploytool.core.environments`): this module runs
there, through :func:`deploytool.core.child.call_in_child`, and imports nothing but MediaPipe,
flatbuffers and the standard library.

MediaPipe 1.2.x ships the writer but not the one compiled function it imports,
``_pywrap_metadata_version.GetMinimumMetadataParserVersion`` (no 1.x wheel holds it; NOTES).
:func:`minimum_parser_version` is that function, rule for rule from upstream's
``mediapipe/tasks/cc/metadata/metadata_version.cc``: the oldest metadata parser that reads a
buffer is the newest schema member the buffer uses (1.0.0 when none)."""

from __future__ import annotations

import sys
import types

VERSION_MODULE = "mediapipe.tasks.cc.metadata.python._pywrap_metadata_version"


def _schema():
    from mediapipe.tasks.metadata import metadata_schema_py_generated as schema

    return schema


def minimum_parser_version(buffer: bytes) -> str:
    """The minimum metadata parser version of a ModelMetadata flatbuffer, as upstream's
    ``GetMinimumMetadataParserVersion`` computes it."""
    fb = _schema()
    found = [(1, 0, 0)]

    def files(entries):
        for entry in entries or []:
            if entry.type == fb.AssociatedFileType.VOCABULARY:
                found.append((1, 0, 1))
            if entry.type == fb.AssociatedFileType.SCANN_INDEX_FILE:
                found.append((1, 4, 0))
            if entry.version is not None:
                found.append((1, 4, 1))

    def units(entries):
        versions = {fb.ProcessUnitOptions.BertTokenizerOptions: (1, 1, 0),
                    fb.ProcessUnitOptions.SentencePieceTokenizerOptions: (1, 1, 0),
                    fb.ProcessUnitOptions.RegexTokenizerOptions: (1, 2, 1)}
        found.extend(versions[u.optionsType] for u in entries or [] if u.optionsType in versions)

    def tensors(entries):
        for tensor in entries or []:
            files(tensor.associatedFiles)
            units(tensor.processUnits)
            if tensor.content is not None and \
                    tensor.content.contentPropertiesType == fb.ContentProperties.AudioProperties:
                found.append((1, 3, 0))

    model = fb.ModelMetadataT.InitFromObj(fb.ModelMetadata.GetRootAsModelMetadata(buffer, 0))
    for graph in model.subgraphMetadata or []:
        tensors(graph.inputTensorMetadata)
        tensors(graph.outputTensorMetadata)
        files(graph.associatedFiles)
        for present, version in ((graph.inputProcessUnits, (1, 1, 0)),
                                 (graph.outputProcessUnits, (1, 1, 0)),
                                 (graph.inputTensorGroups, (1, 2, 0)),
                                 (graph.outputTensorGroups, (1, 2, 0)),
                                 (graph.customMetadata, (1, 5, 0))):
            if present is not None:
                found.append(version)
        units(graph.inputProcessUnits)
        units(graph.outputProcessUnits)
    files(model.associatedFiles)
    return ".".join(map(str, max(found)))


def _install_version_function() -> None:
    """Make MediaPipe's metadata module importable: register :func:`minimum_parser_version` as
    the compiled module it expects, with the packages above it that the wheel lacks (a real
    module, where one is installed, is left alone)."""
    import importlib.util

    if VERSION_MODULE in sys.modules:
        return
    try:
        if importlib.util.find_spec(VERSION_MODULE) is not None:
            return
    except ModuleNotFoundError:
        pass
    parent = None
    parts = VERSION_MODULE.split(".")
    for depth in range(1, len(parts) + 1):
        name = ".".join(parts[:depth])
        if name not in sys.modules:
            try:
                __import__(name)
            except ImportError:
                module = types.ModuleType(name)
                if depth < len(parts):
                    module.__path__ = []
                sys.modules[name] = module
                if parent is not None:
                    setattr(parent, parts[depth - 1], module)
        parent = sys.modules[name]
    sys.modules[VERSION_MODULE].GetMinimumMetadataParserVersion = minimum_parser_version


def write_metadata(model_path: str, out_path: str, spec: dict) -> dict:
    """Write ``spec``'s metadata into the .tflite at ``model_path``, the result to ``out_path``.
    ``spec``: name, description, version, author; ``input`` {name, mean, std, color_space
    (RGB|GRAYSCALE|UNKNOWN)}; ``outputs`` [{name, description, kind, labels}] in the file's
    output order (an output of kind scores becomes a classification output, with its labels
    as the standard TENSOR_AXIS_LABELS file when it has any). Returns the metadata's minimum
    parser version and the writer's version."""
    import json

    _install_version_function()
    import mediapipe
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_info, metadata_writer

    fb = _schema()
    with open(model_path, "rb") as handle:
        writer = metadata_writer.MetadataWriter.create(bytearray(handle.read()))
    # the generic writer's own general-info call takes a name and description only
    writer._general_md = metadata_info.GeneralMd(  # noqa: SLF001
        name=spec["name"], version=spec["version"], description=spec["description"],
        author=spec["author"])
    image = spec["input"]
    writer.add_image_input(image["mean"], image["std"],
                           getattr(fb.ColorSpaceType, image["color_space"]), name=image["name"],
                           description=image["description"])
    for output in spec["outputs"]:
        if output["kind"] == "scores":
            labels = metadata_writer.Labels().add(list(output["labels"])) if output.get("labels") else None
            writer.add_classification_output(labels, name=output["name"],
                                             description=output["description"])
        else:
            writer.add_feature_output(name=output["name"], description=output["description"])
    data, written = writer.populate()  # the file, and its metadata as the displayer shows it
    del writer  # its temporary folder goes now, not at interpreter exit (where its __del__ fails)
    with open(out_path, "wb") as handle:
        handle.write(data)
    return {"min_parser_version": json.loads(written)["min_parser_version"],
            "writer": f"mediapipe {mediapipe.__version__}"}


def read_metadata(model_path: str) -> dict | None:
    """The metadata in the .tflite at ``model_path`` as JSON values (None when it has none):
    the model's name, description, version, author, minimum parser version, each input's and
    output's name, description, content kind, normalization and colour space, and the
    associated files (label files' lines included)."""
    _install_version_function()
    from mediapipe.tasks.python.metadata import metadata

    try:
        displayer = metadata.MetadataDisplayer.with_model_file(model_path)
    except ValueError:  # "The model does not have metadata."
        return None
    import json

    record = json.loads(displayer.get_metadata_json())
    files = {}
    for name in displayer.get_packed_associated_file_list():
        text = displayer.get_associated_file_buffer(name).decode("utf-8", errors="replace")
        files[name] = text.splitlines()
    graph = (record.get("subgraph_metadata") or [{}])[0]
    return {"name": record.get("name"), "description": record.get("description"),
            "version": record.get("version"), "author": record.get("author"),
            "min_parser_version": record.get("min_parser_version"),
            "inputs": [_tensor(t) for t in graph.get("input_tensor_metadata") or []],
            "outputs": [_tensor(t) for t in graph.get("output_tensor_metadata") or []],
            "associated_files": files}


def _tensor(entry: dict) -> dict:
    """One tensor's metadata, flattened from the displayer's JSON."""
    content = entry.get("content") or {}
    properties = content.get("content_properties") or {}
    normalization = next((unit["options"] for unit in entry.get("process_units") or []
                          if unit.get("options_type") == "NormalizationOptions"), None)
    return {"name": entry.get("name"), "description": entry.get("description"),
            "content": content.get("content_properties_type"),
            "color_space": properties.get("color_space"),
            "mean": (normalization or {}).get("mean"), "std": (normalization or {}).get("std"),
            "files": [f.get("name") for f in entry.get("associated_files") or []],
            "range": entry.get("stats")}


def output_shapes(model_path: str) -> list[list[int]]:
    """The shape of each of the .tflite's outputs, in the file's order (read with the TFLite
    schema MediaPipe ships)."""
    from mediapipe.tasks.metadata import schema_py_generated as schema

    with open(model_path, "rb") as handle:
        model = schema.Model.GetRootAs(handle.read(), 0)
    graph = model.Subgraphs(0)
    return [[int(d) for d in graph.Tensors(graph.Outputs(i)).ShapeAsNumpy()]
            for i in range(graph.OutputsLength())]
