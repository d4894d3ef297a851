"""MediaPipe Tasks' ImageClassifier as a runtime: created from the .tflite alone and fed 8-bit
pixels, so the file's metadata decides what the model sees; judged against the Keras reference."""

import pytest

from deploytool.converters.options import ConvertOptions
from deploytool.sources.model_source import load_source
from deploytool.workflows.conversion.convert import convert
from deploytool.workflows.verification.verify import verify
from support import save_colour_classifier


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mediapipe")
    return save_colour_classifier(folder / "m.keras", size=24, filters=6, classes=4, seed=1)


def converted(model_file, out, preset="symmetric"):
    source = load_source(str(model_file), preprocess={"preset": preset})
    return convert(source, ConvertOptions(to="tflite", out_dir=out), remember=False).artifact


def rows_of(report, backend):
    return [row for row in report.rows if row.backend == backend]


def test_mediapipe_runs_the_file_as_its_metadata_says_and_agrees_with_keras(model_file, tmp_path):
    report = verify([converted(model_file, tmp_path)], "mediapipe", samples=16)
    (row,) = report.rows
    assert row.status == "pass" and row.figures["samples"] == 16
    assert row.figures["min_cosine"] > 0.9999


def test_a_wrong_mean_in_the_metadata_fails_mediapipe_and_not_litert(model_file, tmp_path,
                                                                     monkeypatch):
    from deploytool.converters.targets.tflite import metadata

    honest = metadata.metadata_spec

    def wrong_mean(about, tensors):
        spec, notes = honest(about, tensors)
        spec["input"]["mean"] = [0.0, 0.0, 0.0]  # the model was converted for 127.5
        return spec, notes

    monkeypatch.setattr(metadata, "metadata_spec", wrong_mean)
    artifact = converted(model_file, tmp_path)
    report = verify([artifact], "all", samples=16)
    assert [row.status for row in rows_of(report, "tflite")] == ["pass"]
    (row,) = rows_of(report, "mediapipe")
    assert row.status == "fail" and "min_cosine" in row.failed


def test_a_file_mediapipe_refuses_is_n_a_with_its_reason_unless_asked_for(model_file, tmp_path):
    artifact = converted(model_file, tmp_path, preset="imagenet")  # per-channel mean and std
    (row,) = rows_of(verify([artifact], "all", samples=4), "mediapipe")
    assert row.status == "n/a" and "Per-channel" in row.failures[0]
    (named,) = verify([artifact], "mediapipe", samples=4).rows
    assert named.status == "fail" and named.failed == ["refused"]  # MediaPipe declined it


def test_without_its_environment_mediapipe_is_n_a_and_says_how_to_install_it(model_file, tmp_path,
                                                                            monkeypatch):
    artifact = converted(model_file, tmp_path)
    monkeypatch.setenv("DEPLOYTOOL_ENVS", str(tmp_path / "none"))
    (row,) = rows_of(verify([artifact], "all", samples=4), "mediapipe")
    assert row.status == "n/a" and "deploytool setup" in row.failures[0]


def test_an_embedding_model_runs_on_mediapipes_image_embedder(tmp_path):
    from deploytool.core.keras_env import keras

    keras.utils.set_random_seed(4)
    inputs = keras.Input((24, 24, 3))
    features = keras.layers.GlobalAveragePooling2D()(
        keras.layers.Conv2D(8, 3, activation="relu")(inputs))
    keras.Model(inputs, keras.layers.Dense(12, name="emb")(features)).save(tmp_path / "e.keras")
    source = load_source(str(tmp_path / "e.keras"), preprocess={"preset": "symmetric"})
    artifact = convert(source, ConvertOptions(to="tflite", out_dir=tmp_path / "out",
                                              output_kinds={"emb": "embedding"}),
                       remember=False).artifact
    (row,) = verify([artifact], "mediapipe", samples=12).rows
    assert row.engine == "ImageEmbedder" and row.kind == "embedding"
    assert row.status == "pass" and row.figures["min_cosine"] > 0.999


def test_mediapipe_reports_a_float_files_scores_as_probabilities(model_file, tmp_path):
    import numpy as np

    from deploytool.runtimes.isolation import run_isolated

    pixels = np.random.default_rng(0).integers(0, 256, (3, 24, 24, 3), dtype=np.uint8)
    run = run_isolated(converted(model_file, tmp_path), "mediapipe", pixels)
    assert run.ok, run.error
    (scores,) = run.outputs.values()
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=1e-5)


def segmentation_file(tmp_path, seed=5):
    """A 24x24 RGB model whose one output is a 4-class softmax map at half the input's size."""
    from deploytool.core.keras_env import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((24, 24, 3))
    x = keras.layers.Conv2D(6, 3, strides=2, padding="same", activation="relu")(inputs)
    keras.Model(inputs, keras.layers.Conv2D(4, 1, activation="softmax", name="mask")(x)).save(
        tmp_path / "s.keras")
    source = load_source(str(tmp_path / "s.keras"), preprocess={"preset": "symmetric"})
    return convert(source, ConvertOptions(to="tflite", out_dir=tmp_path / "out"),
                   remember=False).artifact


def test_a_dense_map_runs_on_mediapipes_image_segmenter(tmp_path):
    (row,) = verify([segmentation_file(tmp_path)], "mediapipe", samples=8).rows
    assert row.engine == "ImageSegmenter" and row.kind == "dense"
    assert row.status == "pass" and row.figures["min_cosine"] > 0.9999


def test_the_segmenters_masks_come_at_the_images_size(tmp_path):
    import numpy as np

    from deploytool.runtimes.isolation import run_isolated

    pixels = np.random.default_rng(1).integers(0, 256, (2, 40, 30, 3), dtype=np.uint8)
    run = run_isolated(segmentation_file(tmp_path), "mediapipe", pixels)
    assert run.ok, run.error
    (masks,) = run.outputs.values()
    assert masks.shape == (2, 40, 30, 4)
    np.testing.assert_allclose(masks.sum(axis=-1), 1.0, rtol=1e-5)  # the file's softmax


def test_a_wrong_mean_in_the_metadata_fails_the_segmenter(tmp_path, monkeypatch):
    from deploytool.converters.targets.tflite import metadata

    honest = metadata.metadata_spec

    def wrong_mean(about, tensors):
        spec, notes = honest(about, tensors)
        spec["input"]["mean"] = [0.0, 0.0, 0.0]
        return spec, notes

    monkeypatch.setattr(metadata, "metadata_spec", wrong_mean)
    (row,) = verify([segmentation_file(tmp_path)], "mediapipe", samples=8).rows
    assert row.status == "fail" and "min_cosine" in row.failed
