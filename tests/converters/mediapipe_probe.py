"""Run in MediaPipe's own environment by tests (through deploytool.core.child, by file path):
what MediaPipe itself makes of a file deploytool wrote."""

import numpy as np


def classify(model_path: str, images_path: str) -> list[list[dict]]:
    """MediaPipe Tasks' ImageClassifier, created from the file alone, on each uint8 RGB image
    of the .npy: every category it reports (index, name, score), best first."""
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    options = vision.ImageClassifierOptions(base_options=BaseOptions(model_asset_path=model_path))
    results = []
    with vision.ImageClassifier.create_from_options(options) as classifier:
        for image in np.load(images_path):
            found = classifier.classify(mp.Image(image_format=mp.ImageFormat.SRGB,
                                                 data=np.ascontiguousarray(image)))
            results.append([{"index": c.index, "name": c.category_name, "score": float(c.score)}
                            for c in found.classifications[0].categories])
    return results


def parser_versions() -> dict[str, str]:
    """The minimum parser version deploytool's stand-in for MediaPipe's compiled function gives
    metadata that uses members added after 1.0.0, one case each."""
    import flatbuffers
    from mediapipe.tasks.metadata import metadata_schema_py_generated as fb

    from deploytool.converters.targets.tflite.metadata_writer import minimum_parser_version

    def version(graph_fields=None, tensor_files=None) -> str:
        tensor = fb.TensorMetadataT()
        tensor.associatedFiles = tensor_files
        graph = fb.SubGraphMetadataT()
        graph.inputTensorMetadata, graph.outputTensorMetadata = [tensor], [fb.TensorMetadataT()]
        for name, value in (graph_fields or {}).items():
            setattr(graph, name, value)
        model = fb.ModelMetadataT()
        model.subgraphMetadata = [graph]
        builder = flatbuffers.Builder(0)
        builder.Finish(model.Pack(builder), b"M001")
        return minimum_parser_version(bytes(builder.Output()))

    def file(kind, file_version=None):
        entry = fb.AssociatedFileT()
        entry.name, entry.type, entry.version = "f.txt", kind, file_version
        return entry

    return {"plain": version(),
            "labels": version(tensor_files=[file(fb.AssociatedFileType.TENSOR_AXIS_LABELS)]),
            "vocabulary": version(tensor_files=[file(fb.AssociatedFileType.VOCABULARY)]),
            "input_process_units": version({"inputProcessUnits": []}),
            "tensor_groups": version({"outputTensorGroups": []}),
            "file_version": version(tensor_files=[file(fb.AssociatedFileType.DESCRIPTIONS, "2")]),
            "custom_metadata": version({"customMetadata": []})}
