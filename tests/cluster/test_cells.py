"""Cells: computed in child processes, kept by their inputs, a failure a result (serially here;
the same cells on Ray are in test_ray_cells.py)."""

from pathlib import Path

from deploytool.cluster.cells import Cell, cache_file
from deploytool.cluster.run import run_cells

FUNCTIONS = str(Path(__file__).with_name("cell_functions.py"))


def cell(label: str, name: str, *args, **options) -> Cell:
    return Cell(label, f"{FUNCTIONS}:{name}", args, **options)


def test_a_cell_is_computed_once_for_its_inputs_and_then_kept(tmp_path):
    first = run_cells([cell("three", "square", 3)], tmp_path, serial=True)["three"]
    again = run_cells([cell("three", "square", 3)], tmp_path, serial=True)["three"]
    assert first.ok and first.value == {"square": 9} and not first.cached
    assert again.cached and again.value == first.value


def test_other_arguments_or_another_file_content_make_another_cell(tmp_path):
    model = tmp_path / "model.keras"
    model.write_bytes(b"one")
    keys = {cell("c", "square", 3, files=(str(model),)).key(),
            cell("c", "square", 4, files=(str(model),)).key()}
    model.write_bytes(b"two")
    keys.add(cell("c", "square", 3, files=(str(model),)).key())
    assert len(keys) == 3
    assert cache_file(tmp_path, cell("c", "square", 3)) != cache_file(tmp_path, cell("c", "square", 4))


def test_a_crash_or_an_error_is_a_failed_result_and_is_not_kept(tmp_path):
    results = run_cells([cell("segfault", "crash", 1), cell("raises", "fail", 2)], tmp_path,
                        serial=True)
    assert not results["segfault"].ok and "SIGSEGV" in results["segfault"].error
    assert not results["raises"].ok and "no square for 2" in results["raises"].error
    assert not list((tmp_path / "cells").glob("*.json"))


def test_a_timing_step_is_given_the_first_steps_value(tmp_path):
    result = run_cells([cell("timed", "slow_square", 5, 0.0, timing=f"{FUNCTIONS}:timed")],
                       tmp_path, serial=True)["timed"]
    assert result.value["square"] == 25 and "timing_pid" in result.value


def test_progress_says_each_cells_node_and_the_counts(tmp_path):
    lines = []
    run_cells([cell("a", "square", 1), cell("b", "fail", 2)], tmp_path, serial=True,
              log=lines.append)
    assert any(line.startswith("a: done on") and "(1 done, 0 running, 0 failed, 1 waiting)" in line
               for line in lines)
    assert any(line.startswith("b: failed") and "1 failed, 0 waiting" in line for line in lines)
