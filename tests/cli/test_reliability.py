"""Nothing half-written: interrupted, killed or failing commands leave the previous good state
untouched, and a failing disk is one line, not a traceback."""

import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from deploytool.core.fileio import TEMP_SUFFIX, atomic_path, sweep_stale_temporaries

from support import run_cli


DEPLOYTOOL = str(Path(sys.executable).parent / "deploytool")
CONVERT = ["convert", "lenet_bn", "--input-shape", "28,28,1", "--num-classes", "10"]


def snapshot(folder: Path) -> dict:
    """Every visible file under ``folder`` with its bytes."""
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)}


def error_lines(stderr: str) -> list:
    """What stderr says apart from the progress lines ("· ...")."""
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith("·")]


def temporaries(folder: Path) -> list:
    return list(folder.rglob(f"*{TEMP_SUFFIX}"))


@pytest.fixture
def converted(tmp_path):
    """A folder holding a good fp32 LeNet artifact, its manifest and reference."""
    result = subprocess.run([DEPLOYTOOL, *CONVERT, "--out", "out"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return tmp_path / "out"


def start_convert(folder: Path):
    """deploytool convert in the background, with Ctrl-C's default disposition, as a terminal
    starts it (a shell without job control starts its background jobs, this test run included,
    with SIGINT ignored, and a child inherits that)."""
    return subprocess.Popen([DEPLOYTOOL, *CONVERT, "--out", "out"], cwd=folder.parent,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


@pytest.mark.heavy
def test_ctrl_c_exits_130_in_one_line_and_keeps_the_previous_artifact(converted):
    before = snapshot(converted)
    process = start_convert(converted)
    seen = []
    for line in process.stderr:  # interrupt inside TensorFlow's work: right after the folding
        seen.append(line)
        if "folded" in line:
            break
    process.send_signal(signal.SIGINT)
    _, rest = process.communicate(timeout=120)
    stderr = "".join(seen) + rest
    assert process.returncode == 130, stderr
    assert error_lines(stderr) == ["deploytool: interrupted; nothing half-written was left behind"]
    assert "Traceback" not in stderr
    assert snapshot(converted) == before
    assert temporaries(converted) == []


@pytest.mark.heavy
def test_a_killed_convert_leaves_no_partial_file_and_the_next_run_sweeps_its_temporaries(converted):
    before = snapshot(converted)
    process = start_convert(converted)
    deadline = time.monotonic() + 120
    while not temporaries(converted) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.005)
    assert temporaries(converted), "convert finished before its staging folder was seen"
    process.kill()  # SIGKILL while a file is being staged: no cleanup code runs
    process.wait()
    assert snapshot(converted) == before  # the artifact, manifest and reference are the old ones
    left = temporaries(converted)
    assert left and all(str(process.pid) in p.name for p in left)
    result = run_cli("inspect", (converted / "lenet_bn_fp32.tflite"))
    assert result.exit_code == 0, result.output  # still the good, matching artifact
    again = subprocess.run([DEPLOYTOOL, *CONVERT, "--out", "out"], cwd=converted.parent,
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert temporaries(converted) == []


def test_a_temporary_of_a_live_process_is_not_swept(tmp_path):
    mine = tmp_path / f".model.tflite.{os.getpid()}.abcd{TEMP_SUFFIX}"
    mine.mkdir()
    assert sweep_stale_temporaries(tmp_path) == []
    assert mine.exists()


def test_a_failed_write_leaves_the_old_file(tmp_path):
    target = tmp_path / "model.tflite"
    target.write_bytes(b"good")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as staging:
            staging.write_bytes(b"half")
            raise RuntimeError("failed half-way")
    assert target.read_bytes() == b"good"
    assert list(tmp_path.iterdir()) == [target]


@pytest.fixture
def tiny_mount(tmp_path):
    """A 48 KiB tmpfs (needs the right to mount, as root in CI; skipped elsewhere)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48k", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


@pytest.mark.heavy
def test_disk_full_is_one_line_naming_the_file_and_leaves_nothing(tiny_mount, tmp_path):
    result = subprocess.run([DEPLOYTOOL, *CONVERT, "--out", str(tiny_mount)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    lines = error_lines(result.stderr)
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and "No space left on device" in lines[0] and str(tiny_mount) in lines[0]
    assert list(tiny_mount.iterdir()) == []


@pytest.mark.heavy
def test_read_only_output_folder_is_one_line(tiny_mount, tmp_path):
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_mount)], check=True)
    result = subprocess.run([DEPLOYTOOL, *CONVERT, "--out", str(tiny_mount / "out")], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    lines = error_lines(result.stderr)
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and "Read-only file system" in lines[0]


def test_an_unwritable_file_in_process_is_one_line(tmp_path, monkeypatch):
    """Without mount rights too: the write fails with ENOSPC as a full disk would make it."""
    import errno

    def full(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(Path, "write_bytes", full)
    result = run_cli(*CONVERT, "--out", "out")
    assert result.exit_code == 2, result.output
    assert "lenet_bn" in result.stderr and "No space left on device" in result.stderr
    assert len(error_lines(result.stderr)) == 1
    assert not list((tmp_path / "out").glob("*.tflite*")) and temporaries(tmp_path / "out") == []


@pytest.mark.parametrize("member, message", [
    ("../escape.txt", "points outside the archive's folder"),
    ("/etc/evil", "points outside the archive's folder"),
    ("assets/../../evil", "points outside the archive's folder"),
])
def test_keras_archives_that_would_extract_outside_their_folder_are_refused(tmp_path, member, message):
    good = tmp_path / "good.keras"
    from deploytool.sources.model_source import load_source

    load_source("lenet_bn", input_shape=(28, 28, 1), num_classes=10).model.save(good)
    evil = tmp_path / "evil.keras"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(evil, "w") as target:
        for info in source.infolist():
            target.writestr(info, source.read(info.filename))
        target.writestr(member, b"payload")
    for command in (["inspect", str(evil)], ["convert", str(evil), "--out", str(tmp_path / "out")]):
        result = run_cli(*command)
        assert result.exit_code == 2 and message in result.stderr, result.output
    assert not (tmp_path.parent / "escape.txt").exists()


def test_a_zip_bomb_is_refused(tmp_path):
    bomb = tmp_path / "bomb.keras"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", "{}")
        archive.writestr("model.weights.h5", b"\0" * (64 << 20))
    result = run_cli("inspect", bomb)
    assert result.exit_code == 2 and "zip bomb" in result.stderr


def test_a_progress_line_longer_than_the_console_stays_one_line(monkeypatch):
    """Piped stderr is 160 columns wide: a longer message (a metadata note with its remedy)
    must not spill onto a second line that does not start with the progress mark."""
    import io

    from rich.console import Console

    from deploytool.cli import tables

    buffer = io.StringIO()
    monkeypatch.setattr(tables, "stderr", Console(file=buffer, width=160))  # as piped
    tables.progress("·", "dim")("metadata: " + "word " * 60)
    assert [line.startswith("·") for line in buffer.getvalue().splitlines()] == [True]


def test_an_error_a_ctrl_c_turned_into_is_an_interrupt():
    """Ctrl-C inside TensorFlow's import machinery surfaced as SystemError, then AttributeError
    ('SymbolicTensor' object has no attribute '_type_spec'): "internal error" and exit 1 instead
    of 130 (seen once in a fresh-clone CI)."""
    from deploytool.cli.main import interrupted

    def chained():
        try:
            try:
                raise KeyboardInterrupt
            except KeyboardInterrupt as stop:
                raise SystemError("returned a result with an exception set") from stop
        except SystemError:
            raise AttributeError("'SymbolicTensor' object has no attribute '_type_spec'")

    with pytest.raises(AttributeError) as caught:
        chained()
    assert interrupted(caught.value)
    assert not interrupted(ValueError("a bug of ours"))


def test_a_ctrl_c_during_an_import_lands_once_the_import_is_done(tmp_path, monkeypatch):
    """Raised inside an import, the KeyboardInterrupt left TensorFlow half-imported or was
    dropped (a fresh-clone CI's convert went on to exit 0); it is raised after the import."""
    from deploytool.core import interrupts

    (tmp_path / "slow_module.py").write_text(
        "import os, signal, time\n"
        "os.kill(os.getpid(), signal.SIGINT)\n"
        "deadline = time.monotonic() + 0.5\n"
        "while time.monotonic() < deadline:\n"
        "    pass\n"
        "finished = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(interrupts, "_RECEIVED", [])
    previous = signal.signal(signal.SIGINT, interrupts.on_interrupt)
    try:
        with pytest.raises(KeyboardInterrupt):
            import slow_module  # noqa: F401
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:  # the interrupt lands here
                pass
        assert sys.modules["slow_module"].finished
    finally:
        signal.signal(signal.SIGINT, previous)
        sys.modules.pop("slow_module", None)


def _dropped_ctrl_c(monkeypatch):
    """A Ctrl-C that a library caught and went on after."""
    from deploytool.core import interrupts

    monkeypatch.setattr(interrupts, "_RECEIVED", [])
    try:
        interrupts.on_interrupt(signal.SIGINT, None)
    except KeyboardInterrupt:
        pass


def test_after_a_dropped_ctrl_c_nothing_is_committed_to_disk(tmp_path, monkeypatch):
    target = tmp_path / "model.tflite"
    target.write_bytes(b"previous")
    _dropped_ctrl_c(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as staging:
            staging.write_bytes(b"new")
    assert target.read_bytes() == b"previous"
    assert temporaries(tmp_path) == []


def test_a_command_that_ends_after_a_dropped_ctrl_c_exits_130(monkeypatch):
    _dropped_ctrl_c(monkeypatch)
    assert run_cli("models").exit_code == 130
