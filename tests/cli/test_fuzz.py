"""Fuzzing: mutated, truncated and bit-flipped .tflite, .onnx and .keras files through `inspect`,
`verify` and `convert`. Every run must end with exit 1 or 2 and one line naming the problem (or
exit 0 where the mutant is still a valid model), within a time limit: no crash, no hang, no
traceback."""

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from deploytool.core.fileio import sha256_file
from deploytool.core.manifest import manifest_path, read_manifest

from fuzzing import mutants, run_campaign

pytestmark = pytest.mark.heavy  # minutes: every command on hundreds of files

PER_SEED = 42
RESIGNED = 30  # mutants whose manifest is rewritten to match, so verify really runs them
LIMIT = 60  # seconds per run


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, lenet_artifacts):
    """Seeds (a LeNet as fp32/int8 .tflite, fp32/int8 .onnx and a tf_keras .keras) and their
    mutants, plus files of the wrong kind."""
    root = tmp_path_factory.mktemp("fuzz")
    mutants_dir = root / "mutants"
    mutants_dir.mkdir()
    seeds = [lenet_artifacts[kind] for kind in ("tflite_fp32", "tflite_int8", "onnx_fp32",
                                                "onnx_int8", "keras")]
    files = []
    for number, seed in enumerate(seeds):
        files += mutants(seed, PER_SEED, mutants_dir, seed=number)
    wrong = {"empty.tflite": b"", "onnx_bytes.tflite": seeds[2].read_bytes(),
             "tflite_bytes.onnx": seeds[0].read_bytes(), "keras_zip.onnx": seeds[4].read_bytes(),
             "text.keras": b"not a model\n", "random.h5": bytes(range(256)) * 8}
    for name, data in wrong.items():
        (mutants_dir / name).write_bytes(data)
        files.append(mutants_dir / name)
    resigned = []
    for path in [f for f in files if f.suffix in (".tflite", ".onnx") and manifest_path(f).exists()][::5][:RESIGNED]:
        copy = path.with_name("resigned." + path.name)
        shutil.copy(path, copy)
        manifest = read_manifest(path)
        manifest["artifact"]["sha256"] = sha256_file(copy)  # as if a faulty converter had written it
        manifest_path(copy).write_text(json.dumps(manifest))
        resigned.append(copy)
    return root, files, resigned


def test_fuzzed_files_end_cleanly_in_every_command(corpus, record_property):
    root, files, resigned = corpus
    cases = []
    for path in files:
        cases += [{"command": "inspect", "file": path.name, "args": ["inspect", str(path)]},
                  {"command": "verify", "file": path.name,
                   "args": ["verify", str(path), "--samples", "4", "--timeout", "20"]},
                  {"command": "convert", "file": path.name,
                   "args": ["convert", str(path), "--out", str(root / "out"), "--calib-samples", "20"]}]
    for path in resigned:
        cases.append({"command": "verify (re-signed)", "file": path.name,
                      "args": ["verify", str(path), "--samples", "4", "--timeout", "20"]})
    work = root / "work"
    work.mkdir()
    results = run_campaign(cases, work, limit=LIMIT)

    assert len(results) == len(cases)
    outcomes = Counter(r["outcome"] for r in results)
    by_command = Counter((case["command"], r["outcome"]) for case, r in zip(cases, results))
    record_property("summary",
        f"fuzz: {len(files)} files x inspect/verify/convert + {len(resigned)} re-signed verifies = "
        f"{len(results)} runs: {outcomes['clean']} clean errors, {outcomes['accepted']} accepted "
        f"(still valid models: "
        + ", ".join(f"{n} {command}" for (command, outcome), n in sorted(by_command.items())
                    if outcome == "accepted")
        + f"), {outcomes['crash']} crashes, {outcomes['hang']} hangs, "
        f"{outcomes['bug']} tracebacks or internal errors")
    problems = [f"{case['command']} {case['file']}: {r['outcome']}: {r['message']}"
                for case, r in zip(cases, results) if r["outcome"] not in ("clean", "accepted")]
    assert not problems, "\n".join(problems[:20])
    assert len(files) >= 200
    assert max(r["seconds"] for r in results) < LIMIT
    # a changed file never passes as the converted one: inspect and verify see the manifest
    for command in ("inspect", "verify"):
        accepted = [case["file"] for case, r in zip(cases, results) if case["command"] == command
                    and r["outcome"] == "accepted" and case["file"].endswith((".tflite", ".onnx"))]
        assert not accepted, accepted
    assert by_command[("verify (re-signed)", "clean")] >= RESIGNED // 2


def test_the_real_command_line_prints_one_line_for_fuzzed_files(corpus, tmp_path):
    """A few mutants through the installed `deploytool` executable: the user's terminal sees one
    line and no native library noise."""
    _, files, _ = corpus
    executable = Path(sys.executable).parent / "deploytool"
    picked = [f for f in files if f.name.endswith(("huge_field.tflite", "truncate.onnx", "keras_layer.keras"))][:3]
    assert len(picked) == 3
    for path in picked:
        for args in (["inspect", str(path)], ["convert", str(path), "--out", str(tmp_path)]):
            result = subprocess.run([str(executable), *args], capture_output=True, text=True,
                                    timeout=LIMIT, cwd=tmp_path)
            lines = [line for line in result.stderr.splitlines() if line.strip()]
            assert result.returncode in (1, 2), (args, result.stderr)
            assert len(lines) == 1 and lines[0].startswith("deploytool:"), (args, result.stderr)
