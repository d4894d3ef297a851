"""The comparator: each kind of output measured and judged as it is used."""

import numpy as np
import pytest

from deploytool.core.compare import compare_outputs, judge, tolerance_for
from deploytool.core.output_parity import compare_every_output, pair_outputs

RNG = np.random.default_rng(0)


def test_a_regression_head_is_judged_by_its_error_against_the_references_range():
    reference = RNG.uniform(-2, 2, (8, 4))
    figures = compare_outputs(reference, reference + 0.1, kind="regression")
    assert figures["relative_error"] == pytest.approx(0.1 / (reference.max() - reference.min()))
    assert "top1_agreement" not in figures
    assert judge(figures, tolerance_for("int8")) == []
    worse = compare_outputs(reference, reference + 0.5, kind="regression")
    assert judge(worse, tolerance_for("int8")) == [
        f"error {worse['relative_error']:.2%} of the output's range > 5%"]


def test_an_embedding_is_judged_by_the_nearest_neighbours_it_finds():
    reference = RNG.normal(size=(10, 6))
    assert compare_outputs(reference, reference * 3, kind="embedding")["neighbour_agreement"] == 1.0
    shuffled = compare_outputs(reference, reference[::-1], kind="embedding")
    assert shuffled["neighbour_agreement"] < 1.0
    assert any(f.startswith("nearest-neighbour agreement") for f in judge(shuffled, tolerance_for("int8")))
    assert "neighbour_agreement" not in compare_outputs(reference[:2], reference[:2], kind="embedding")


def test_a_dense_map_is_judged_pixel_by_pixel():
    reference = RNG.random((2, 5, 5, 3))
    flipped = reference.copy()
    flipped[0, 0, 0] = np.roll(np.eye(3)[reference[0, 0, 0].argmax()], 1)  # one pixel's class changes
    figures = compare_outputs(reference, flipped, kind="dense")
    assert figures["pixel_agreement"] == 1 - 1 / 50
    assert figures["pixel_agreement"] < tolerance_for("fp16").min_pixel_agreement


def test_outputs_pair_by_name_never_by_position():
    box, face = RNG.normal(size=(2, 4)), RNG.random((2, 2))
    reference = {"box": box, "face": face}
    produced = {"face": face, "box": box}
    assert [v.shape for v in pair_outputs(reference, produced).values()] == [(2, 4), (2, 2)]
    verdicts = compare_every_output(reference, produced, {"box": "regression", "face": "scores"}, "fp32")
    assert [(v.name, v.kind, v.passed) for v in verdicts] == [("box", "regression", True),
                                                              ("face", "scores", True)]


def test_a_missing_output_fails_by_name():
    box = RNG.normal(size=(2, 4))
    reference = {"box": box, "face": np.ones((2, 2))}
    verdicts = compare_every_output(reference, {"box": box}, {}, "fp32")
    assert verdicts[0].passed and not verdicts[1].passed
    assert verdicts[1].failed == ["missing_output"]


def test_a_trained_models_int8_is_judged_by_its_decisions_and_its_cosine_only_reported():
    from deploytool.core.compare import judge_parity

    figures = {"kind": "scores", "samples": 64, "max_abs": 0.2, "min_cosine": 0.946,
               "top1_agreement": 1.0}
    failures, used = judge_parity(figures, "int8", trained=True)
    assert failures == [] and used.min_cosine is None and used.min_top1_agreement == 0.9
    untrained, _ = judge_parity(figures, "int8", trained=False)  # its decisions are tie-breaks
    assert [criterion for criterion, _ in untrained] == ["min_cosine"]
    flipped, _ = judge_parity({**figures, "top1_agreement": 0.8}, "int8", trained=True)
    assert [criterion for criterion, _ in flipped] == ["min_top1_agreement"]


def test_a_trained_models_fp16_is_judged_by_its_decisions_at_a_stricter_bar_than_int8():
    from deploytool.core.compare import judge_parity

    uncertain_image = {"kind": "scores", "samples": 360, "max_abs": 0.036, "min_cosine": 0.998,
                       "top1_agreement": 1.0}  # ResNet-152's fp16 .tflite on the trained matrix
    assert judge_parity(uncertain_image, "fp16", trained=True)[0] == []
    (failed,) = judge_parity({**uncertain_image, "top1_agreement": 0.97}, "fp16", trained=True)[0]
    assert failed[0] == "min_top1_agreement"
    (failed,) = judge_parity(uncertain_image, "fp16", trained=False)[0]
    assert failed[0] == "min_cosine"


def test_a_single_score_head_is_judged_by_its_decision_over_a_threshold_and_its_error():
    # a sigmoid's one value per image: top-1 of one class and a row's cosine always agree
    reference = np.random.default_rng(1).uniform(0.4, 0.6, (64, 1))
    figures = compare_outputs(reference, reference + 0.05)
    assert figures["decision_threshold"] == 0.5
    flipped = int(np.sum((reference[:, 0] > 0.5) != (reference[:, 0] + 0.05 > 0.5)))
    assert flipped > 0 and figures["top1_agreement"] == 1 - flipped / 64
    assert figures["relative_error"] == pytest.approx(0.05)  # of a probability's range, 0-1
    assert judge(compare_outputs(reference, reference + 0.04), tolerance_for("int8", trained=False)) == []
    assert judge(compare_outputs(reference, reference + 0.1), tolerance_for("int8", trained=False)) == [
        "error 10.00% of the output's range > 5%"]
    assert "top5_overlap" not in figures


def test_a_single_logit_is_decided_at_zero_and_its_cosine_taken_over_the_images():
    reference = np.array([[-2.0], [-0.1], [0.3], [1.5]])
    figures = compare_outputs(reference, -reference, labels=[0, 0, 1, 1])
    assert figures["decision_threshold"] == 0
    assert figures["top1_agreement"] == 0.0 and figures["accuracy"] == 0.0
    assert figures["accuracy_reference"] == 1.0
    assert figures["min_cosine"] == pytest.approx(-1.0)
    assert figures["relative_error"] == pytest.approx(4.0 / 3.5)  # of the range its values span


def test_a_reference_that_gives_the_same_output_on_every_image_is_not_a_pass():
    constant = np.full((16, 10), 0.1)  # a MobileNetV2 saved without weights answers 0.1 everywhere
    figures = compare_outputs(constant, constant)
    assert figures["max_abs"] == 0 and figures["reference_spread"] == 0
    failures = judge(figures, tolerance_for("fp32"))
    assert len(failures) == 1 and failures[0].startswith(
        "the reference gives the same output for all 16 images")
    varying = constant + RNG.normal(scale=1e-3, size=constant.shape)
    assert judge(compare_outputs(varying, varying), tolerance_for("fp32")) == []
    assert judge(compare_outputs(constant[:1], constant[:1]), tolerance_for("fp32")) == []


def test_an_artifacts_outputs_must_be_the_models_by_count_name_and_shape():
    from deploytool.core.output_parity import output_structure_failures
    from deploytool.core.tensors import TensorInfo

    reference = {"box": (4,), "scores": (2,)}
    same = [TensorInfo("scores", (1, 2), "float32"), TensorInfo("box", (-1, 4), "float32")]
    assert output_structure_failures(reference, same) == []
    assert len(output_structure_failures(reference, same[:1])) == 1  # one output missing
    renamed = [TensorInfo("face_net", (1, 2), "float32"), same[1]]
    assert len(output_structure_failures(reference, renamed)) == 1  # scores missing by name
    reshaped = [TensorInfo("scores", (1, 1, 2), "float32"), same[1]]
    assert len(output_structure_failures(reference, reshaped)) == 1
    unknown = [TensorInfo("scores", (-1, -1), "float32"), same[1]]  # as OpenCV declares them
    assert output_structure_failures(reference, unknown) == []


def test_a_runner_refuses_an_artifact_that_gives_two_outputs_one_name(tmp_path):
    import pytest

    from deploytool.core.errors import ArtifactMismatch
    from deploytool.core.tensors import TensorInfo
    from deploytool.runtimes.base import Runner

    class Twice(Runner):  # a runtime's view of a file whose outputs repeat a name
        name = "runner"
        input_shape = (2, 2, 1)

        def _load(self):
            self.outputs = [TensorInfo("face_net", (1, 4), "float32")] * 2

        def _run(self, prepared):
            return []

    (tmp_path / "m.bin").write_bytes(b"")
    with pytest.raises(ArtifactMismatch):
        Twice(tmp_path / "m.bin").load()
