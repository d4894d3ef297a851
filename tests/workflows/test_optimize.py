"""`deploytool optimize`: every precision the format offers is built, judged on the same held-out
images on the chosen runtime and timed there; the fastest that meets the budget is written with
its manifest, a Markdown report, a Pareto chart and JSON."""

import json
from pathlib import Path

import pytest

from deploytool.converters.options import ConvertOptions
from deploytool.core.fileio import sha256_file
from deploytool.workflows.quantization.budget_criteria import MET, MISSED, Judgement
from deploytool.workflows.quantization.optimize import Candidate, choose, format_for_runtime

from support import run_cli

pytestmark = pytest.mark.usefixtures("in_tmp_dir")

TINY_LENET = ("lenet_bn", "--input-shape", "28,28,1", "--num-classes", "10", "--width", "0.25",
              "--calib-data", "digits")


def test_optimize_writes_the_fastest_candidate_that_meets_the_budget(tmp_path):
    result = run_cli("optimize", *TINY_LENET, "--runtime", "onnxruntime", "--min-cosine", "0.9",
                     "--runs", "5", "--out", tmp_path / "out", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    candidates = {c["label"]: c for c in report["candidates"]}
    assert list(candidates) == ["fp32", "int8"] and report["format"] == "onnx"
    assert report["held_out_images"] == 360 and report["runtime"] == "onnxruntime"
    chosen = [c for c in report["candidates"] if c["chosen"]]
    assert len(chosen) == 1 and chosen[0]["label"] == report["chosen"]
    eligible = [c for c in report["candidates"] if c["met"] and c["median_ms"]]
    assert chosen[0]["median_ms"] == min(c["median_ms"] for c in eligible)
    for candidate in report["candidates"]:
        assert candidate["figures"]["samples"] == 360 and candidate["size_bytes"] > 0
        assert candidate["p90_ms"] >= candidate["median_ms"] > 0
        # timed in three child processes each, in turn; the latency is their median
        assert len(candidate["round_medians_ms"]) == 3
        assert candidate["median_ms"] == sorted(candidate["round_medians_ms"])[1]
    artifact = Path(report["artifact"])
    manifest = json.loads(Path(f"{artifact}.json").read_text())
    assert manifest["optimize"]["chosen"] == report["chosen"]
    assert manifest["settings"]["precision"] == chosen[0]["precision"]
    # the file written is the file judged and timed, and verify finds its reference
    assert sha256_file(artifact) == manifest["artifact"]["sha256"] == chosen[0]["sha256"]
    assert run_cli("verify", artifact, "--backend", "onnxruntime").exit_code == 0
    for name in ("optimize.md", "optimize.json", "optimize.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    assert f"Chosen: **{report['chosen']}**" in (tmp_path / "out" / "optimize.md").read_text()
    leftovers = [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".deploytool")]
    assert leftovers == []  # the candidates not chosen are not left behind


@pytest.mark.heavy
def test_optimize_offers_the_budget_searchs_int8_when_plain_int8_misses(hostile_model_file, tmp_path):
    result = run_cli("optimize", hostile_model_file, "--runtime", "tflite", "--min-cosine", "0.99",
                     "--runs", "5", "--out", tmp_path / "out", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    labels = [c["label"] for c in report["candidates"]]
    assert labels[:4] == ["fp32", "fp16", "dynamic range", "int8"]
    assert labels[4].startswith("int8, ") and "in float" in labels[4]
    by_label = {c["label"]: c for c in report["candidates"]}
    assert not by_label["int8"]["met"] and by_label[labels[4]]["met"]
    assert by_label[labels[4]]["keep_float"]


def test_optimize_needs_a_budget():
    result = run_cli("optimize", *TINY_LENET, "--runtime", "tflite")
    assert result.exit_code == 2 and "--max-drop" in result.output


def test_a_format_the_runtime_cannot_read_is_refused():
    result = run_cli("optimize", *TINY_LENET, "--runtime", "tensorflow", "--to", "tflite",
                     "--min-cosine", "0.9")
    assert result.exit_code == 2 and ".tflite" in result.output


def test_each_runtime_gets_its_own_format_and_opencv_gets_onnx():
    assert [format_for_runtime(r) for r in ("tflite", "onnxruntime", "tensorflow", "opencv")] == \
        ["tflite", "onnx", "pb", "onnx"]


def _candidate(label, precision, met, median_ms):
    judgement = Judgement(MET if met else MISSED, 100)
    return Candidate(label, ConvertOptions(precision=precision), {}, judgement, 1000,
                     median_ms=median_ms)


def test_the_fastest_candidate_that_meets_the_budget_is_chosen_not_the_fastest_overall():
    candidates = [_candidate("fp32", "fp32", True, 1.0), _candidate("fp16", "fp16", True, 0.7),
                  _candidate("int8", "int8", False, 0.3)]
    chosen, reason = choose(candidates)
    assert chosen.label == "fp16"


def test_fp32_is_written_when_nothing_else_meets_the_budget():
    candidates = [_candidate("fp32", "fp32", False, 1.0), _candidate("int8", "int8", False, 0.3)]
    chosen, reason = choose(candidates)
    assert chosen.label == "fp32" and not chosen.judgement.met


def test_a_win_inside_the_timing_noise_is_said_to_be_one():
    candidates = [_candidate("fp32", "fp32", True, 1.0), _candidate("fp16", "fp16", True, 0.95)]
    _, reason = choose(candidates)
    assert "fp32 is within this machine's timing noise" in reason


def test_a_lead_that_one_timing_round_reverses_is_said_to_be_inside_this_runs_noise():
    fp32, int8 = _candidate("fp32", "fp32", True, 18.0), _candidate("int8", "int8", True, 13.1)
    fp32.round_medians_ms, int8.round_medians_ms = [18.0, 16.7, 25.6], [13.1, 20.0, 13.1]
    chosen, reason = choose([fp32, int8])
    assert chosen is int8
    assert "fp32 (18 ms) is within this run's timing noise of it" in reason
    assert "fastest round (17 ms) beat the winner's slowest (20 ms)" in reason
    int8.round_medians_ms = [13.1, 14.0, 13.1]  # every round of int8 beat every round of fp32
    assert "noise" not in choose([fp32, int8])[1]
