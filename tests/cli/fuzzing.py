"""Fuzzing of deploytool's file inputs: mutators, a persistent-mode child that runs CLI commands
in-process, and a parent that watches it.

The child (``python tests/fuzzing.py PLAN.json RESULTS.jsonl START``) imports TensorFlow once and
runs each planned command with click's CliRunner, appending one JSON line per finished case.
The parent (:func:`run_campaign`) restarts it after a crash (the case it was on is a crash) or
a hang (no answer within the time limit: the case is a hang, the child is killed), so one bad
file can neither end the campaign nor go uncounted.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

# --- mutators --------------------------------------------------------------------------------


def truncate(data: bytes, rng) -> bytes:
    return data[: int(rng.integers(0, max(1, len(data))))]


def flip_bit(data: bytes, rng) -> bytes:
    out = bytearray(data)
    position = int(rng.integers(0, len(out)))
    out[position] ^= 1 << int(rng.integers(0, 8))
    return bytes(out)


def flip_bits(data: bytes, rng) -> bytes:
    out = bytearray(data)
    for position in rng.integers(0, len(out), 16):
        out[int(position)] ^= 1 << int(rng.integers(0, 8))
    return bytes(out)


def random_block(data: bytes, rng) -> bytes:
    out = bytearray(data)
    start = int(rng.integers(0, max(1, len(out) - 32)))
    out[start:start + 32] = rng.integers(0, 256, 32, dtype=np.uint8).tobytes()
    return bytes(out)


def huge_field(data: bytes, rng) -> bytes:
    """A 4-byte little-endian field set to a huge value: a length or offset pointing far away."""
    out = bytearray(data)
    start = int(rng.integers(0, max(1, len(out) // 4 - 1))) * 4
    out[start:start + 4] = (0x7FFFFFF0 + int(rng.integers(0, 15))).to_bytes(4, "little")
    return bytes(out)


def header(data: bytes, rng) -> bytes:
    """Bit flips in the first 64 bytes, where formats keep their root offsets and magic."""
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 4))):
        position = int(rng.integers(0, min(64, len(out))))
        out[position] ^= 1 << int(rng.integers(0, 8))
    return bytes(out)


def delete_chunk(data: bytes, rng) -> bytes:
    start = int(rng.integers(0, len(data)))
    return data[:start] + data[start + int(rng.integers(1, 256)):]


def duplicate_chunk(data: bytes, rng) -> bytes:
    start = int(rng.integers(0, len(data)))
    return data[:start] + data[start:start + 512] + data[start:]


def _rezip(data: bytes, member: str, mutate) -> bytes:
    """A valid zip again (CRCs recomputed) with one member's bytes mutated: past the zip layer."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info.filename)
            target.writestr(info, mutate(content) if info.filename == member else content)
    return out.getvalue()


def keras_config(data: bytes, rng) -> bytes:
    """config.json of a .keras with a few bytes replaced by JSON-significant characters."""
    def mutate(content):
        out = bytearray(content)
        for _ in range(int(rng.integers(1, 4))):
            out[int(rng.integers(0, len(out)))] = ord(rng.choice(list('{}[]":,0-e')))
        return bytes(out)
    return _rezip(data, "config.json", mutate)


def keras_weights(data: bytes, rng) -> bytes:
    """model.weights.h5 of a .keras with a random 32-byte block: past the zip CRC into HDF5."""
    return _rezip(data, "model.weights.h5", lambda content: random_block(content, rng))


def keras_layer(data: bytes, rng) -> bytes:
    """A layer of config.json swapped for a Lambda or an unknown class: must never run code."""
    def mutate(content):
        config = json.loads(content)
        layer = config["config"]["layers"][int(rng.integers(1, len(config["config"]["layers"])))]
        layer["class_name"] = str(rng.choice(["Lambda", "EvilLayer", "Functional"]))
        return json.dumps(config).encode()
    return _rezip(data, "config.json", mutate)


BYTE_MUTATORS = [truncate, flip_bit, flip_bits, random_block, huge_field, header, delete_chunk,
                 duplicate_chunk]
KERAS_MUTATORS = BYTE_MUTATORS + [keras_config, keras_weights, keras_layer] * 3


def mutants(seed_file: Path, count: int, folder: Path, seed: int) -> list[Path]:
    """``count`` mutated copies of ``seed_file`` in ``folder`` (same suffix), each with a copy of
    the seed's manifest, if it has one, beside it."""
    rng = np.random.default_rng(seed)
    data = seed_file.read_bytes()
    manifest = seed_file.with_name(seed_file.name + ".json")
    operators = KERAS_MUTATORS if seed_file.suffix == ".keras" else BYTE_MUTATORS
    made = []
    for i in range(count):
        operator = operators[i % len(operators)]
        target = folder / f"{seed_file.stem}.{i:03d}.{operator.__name__}{seed_file.suffix}"
        try:
            target.write_bytes(operator(data, rng))
        except (zipfile.BadZipFile, KeyError, ValueError, IndexError):
            target.write_bytes(flip_bits(data, rng))
        if manifest.exists():
            target.with_name(target.name + ".json").write_bytes(manifest.read_bytes())
        made.append(target)
    return made


# --- the child: commands run in-process --------------------------------------------------------


def classify(exit_code: int, stdout: str, stderr: str, exception) -> str:
    """clean (exit 1/2, one line naming the problem, after any progress lines), accepted (exit 0: still a valid model), or
    bug (a traceback, an internal error, several lines, another exit code)."""
    # progress lines ("· verifying …", "▸ …") may come before the one line that says what failed
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith(("·", "▸"))]
    if "Traceback" in stdout + stderr or (exception is not None and not isinstance(exception, SystemExit)):
        return "bug"
    if exit_code == 0:
        return "accepted"
    if exit_code in (1, 2) and len(lines) == 1 and lines[0].startswith("deploytool:") \
            and "internal error" not in lines[0]:
        return "clean"
    return "bug"


def child(plan_path: str, results_path: str, start: int) -> None:
    from click.testing import CliRunner

    from deploytool.cli import main

    plan = json.loads(Path(plan_path).read_text())
    os.chdir(plan["workdir"])
    with open(results_path, "a") as results:
        for index in range(start, len(plan["cases"])):
            case = plan["cases"][index]
            started = time.perf_counter()
            result = CliRunner().invoke(main, case["args"])
            outcome = classify(result.exit_code, result.stdout, result.stderr, result.exception)
            message = (result.stderr.strip().splitlines() or [""])[-1][:300]
            if outcome == "bug" and result.exception is not None and not isinstance(result.exception, SystemExit):
                message = f"{type(result.exception).__name__}: {result.exception}"[:300]
            results.write(json.dumps({"index": index, "outcome": outcome, "exit": result.exit_code,
                                      "message": message,
                                      "seconds": round(time.perf_counter() - started, 3)}) + "\n")
            results.flush()


# --- the parent --------------------------------------------------------------------------------


def _read_results(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run_campaign(cases: list[dict], workdir: Path, limit: float = 60.0) -> list[dict]:
    """Run every case ({"args": [...]}) and return one result per case, crashes and hangs
    included."""
    plan = workdir / "plan.json"
    plan.write_text(json.dumps({"workdir": str(workdir), "cases": cases}))
    results_path = workdir / "results.jsonl"
    results_path.unlink(missing_ok=True)
    extra = []  # crash and hang records, written by the parent
    start = 0
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2]),
                                                        os.environ.get("PYTHONPATH", "")])}
    while start < len(cases):
        process = subprocess.Popen([sys.executable, __file__, str(plan), str(results_path), str(start)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        done = len(_read_results(results_path)) + len(extra)
        last_progress = time.monotonic()
        first = True
        while process.poll() is None:
            time.sleep(0.2)
            now_done = len(_read_results(results_path)) + len(extra)
            if now_done != done:
                done, last_progress, first = now_done, time.monotonic(), False
            # the first case also waits for TensorFlow's import
            if time.monotonic() - last_progress > limit + (60 if first else 0):
                process.kill()
                process.wait()
                extra.append({"index": done, "outcome": "hang", "exit": None,
                              "message": f"no answer within {limit:g} s", "seconds": limit})
                break
        else:
            done = len(_read_results(results_path)) + len(extra)
            if process.returncode != 0 and done < len(cases):
                extra.append({"index": done, "outcome": "crash", "exit": process.returncode,
                              "message": f"the process died (exit {process.returncode})", "seconds": None})
        start = len(_read_results(results_path)) + len(extra)
    return sorted(_read_results(results_path) + extra, key=lambda r: r["index"])


if __name__ == "__main__":
    child(sys.argv[1], sys.argv[2], int(sys.argv[3]))
