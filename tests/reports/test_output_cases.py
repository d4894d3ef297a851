"""The own-models page's section on several outputs, free sizes and saved forms: one cell per
artifact kind and runtime whatever the number of outputs, and the section put into the page."""

import pytest

from deploytool.reports.matrix import backend_row
from deploytool.reports.output_cases import CASES, HEADING, output_case_cells, splice_section
from deploytool.workflows.verification.verify import VerifyRow


def rows(*outputs):
    return [VerifyRow("m.onnx", "onnxruntime", "int8", status, name, "scores",
                      {"max_abs": error, "min_cosine": cosine}, failures)
            for name, status, error, cosine, failures in outputs]


def test_a_backend_with_several_outputs_is_one_cell_failing_when_any_output_fails():
    row = backend_row(rows(("box", "pass", 0.01, 0.999, []),
                           ("face", "fail", 0.002, 0.95, ["cosine 0.9500 < 0.99"])))
    assert row.status == "fail" and row.failures == ["face: cosine 0.9500 < 0.99"]
    assert row.figures["max_abs"] == 0.01 and row.figures["min_cosine"] == 0.95
    assert set(row.figures["outputs"]) == {"box", "face"}


def test_the_section_replaces_its_old_self_and_nothing_else():
    page = "# page\n\n## families\n\ntext\n\n" + HEADING + "\n\nold\n\n## later\n\nkept\n"
    spliced = splice_section(page, [HEADING, "", "new"])
    assert spliced == "# page\n\n## families\n\ntext\n\n" + HEADING + "\n\nnew\n## later\n\nkept"
    assert splice_section("# page\n", [HEADING, "", "new"]) == f"# page\n\n{HEADING}\n\nnew"


@pytest.mark.heavy
@pytest.mark.parametrize("case", [c for c in CASES if c.name.startswith(
    ("two", "detector", "subclassed", "model in a model"))], ids=lambda case: case.name)
def test_a_case_gives_a_cell_per_runtime_with_every_output_compared(tmp_path, case):
    cells = output_case_cells(tmp_path, 8, 20, [("ONNX fp32", "onnx", "fp32")], cases=[case])
    by_runtime = {cell["runtime"]: cell for cell in cells}
    assert by_runtime["onnxruntime"]["status"] == "pass"
    outputs = by_runtime["onnxruntime"]["figures"]["outputs"]
    heads = {"detector": ["box", "landmarks", "face"], "model in a model (": ["box", "landmarks",
             "scores"], "model in a model, dict": ["age", "gender"]}
    expected = next((names for prefix, names in heads.items() if case.name.startswith(prefix)),
                    None)
    assert sorted(outputs) == sorted(expected) if expected else len(outputs) == 2
    if case.name.startswith("two"):  # two heads of class scores, each judged by its decisions
        assert all("top1_agreement" in figures for figures in outputs.values())


def test_a_runtime_far_below_its_formats_own_is_not_called_rounding():
    from deploytool.reports.matrix import NUMERICAL, _numerical_note

    (own,) = rows(("embedding", "pass", 0.01, 0.995, []))
    own.backend = "onnxruntime"
    (noise,) = rows(("embedding", "fail", 0.9, 0.01, ["cosine 0.0100 < 0.99"]))
    noise.backend = "opencv"
    by_backend = {"onnxruntime": own, "opencv": noise}
    assert _numerical_note(noise, by_backend, "onnxruntime", NUMERICAL).startswith(
        "not rounding: a worst cosine of 0.01")
    own.figures["min_cosine"] = 0.3  # the quantized model itself is far: rounding, not an error
    own.status, own.failures = "fail", ["cosine 0.3000 < 0.99"]
    assert _numerical_note(noise, by_backend, "onnxruntime", NUMERICAL).startswith("numerical")


def test_a_runtime_failing_a_file_another_runtime_passes_is_not_called_the_models_own_error():
    """ONNX Runtime's u8s8 kernels on a CPU without VNNI: its own format's runtime fails the
    file on a regression head while OpenCV passes the very same .onnx."""
    from deploytool.reports.matrix import NUMERICAL, _numerical_note

    (own,) = rows(("box", "fail", 0.05, 0.999, ["error 9.75% of the output's range > 5%"]))
    own.backend = "onnxruntime"
    (other,) = rows(("box", "pass", 0.004, 0.9999, []))
    other.backend = "opencv"
    note = _numerical_note(own, {"onnxruntime": own, "opencv": other}, "onnxruntime", NUMERICAL)
    assert note != NUMERICAL and "OpenCV" in note
    other.status, other.failures = "fail", ["error 9.80% of the output's range > 5%"]
    assert _numerical_note(own, {"onnxruntime": own, "opencv": other}, "onnxruntime",
                           NUMERICAL) == NUMERICAL
