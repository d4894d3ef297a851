"""`deploytool matrix --fleet`: a user's own model files, each with its preprocessing, labels and
data, read from a folder or a list, and checked on every kind and runtime as the zoo is."""

import json

import pytest

from deploytool.core.errors import UserError
from deploytool.reports.fleet import labelled, read_fleet
from support import run_cli, save_colour_classifier


def test_a_folder_fleet_takes_each_files_settings_from_beside_it(tmp_path):
    (tmp_path / "a.h5").write_bytes(b"x")
    (tmp_path / "b.keras").write_bytes(b"x")
    (tmp_path / "labels.txt").write_text("cat\ndog\n")
    (tmp_path / "b.keras.json").write_text(json.dumps(
        {"preprocess": {"preset": "tf"}, "labels": "labels.txt", "name": "pets"}))
    (tmp_path / "notes.txt").write_text("not a model")
    a, b = read_fleet(tmp_path)
    assert (a.name, a.preprocess, a.labels) == ("a", None, None)
    assert (b.name, b.preprocess) == ("pets", {"preset": "tf"})
    assert b.labels == str((tmp_path / "labels.txt").resolve())


def test_a_listed_fleet_resolves_paths_against_its_own_folder(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "m.h5").write_bytes(b"x")
    (tmp_path / "photos").mkdir()
    listing = tmp_path / "fleet.json"
    listing.write_text(json.dumps({"models": [{"path": "models/m.h5", "data": "folder:photos"},
                                              {"path": "models/m.h5", "name": "m2", "data": "digits"}]}))
    first, second = read_fleet(listing)
    assert first.path == str((tmp_path / "models" / "m.h5").resolve())
    assert first.data == f"folder:{(tmp_path / 'photos').resolve()}" and second.data == "digits"
    assert labelled(first.data) and labelled(second.data) and not labelled(None)
    assert not labelled(f"images:{tmp_path / 'photos'}")


@pytest.mark.parametrize("models, problem", [
    ([{"path": "missing.h5"}], "no such file"),
    ([{"path": "m.h5", "colour": "red"}], "unknown key"),
    ([{"path": "m.h5"}, {"path": "m.h5"}], "share a name"),
    ([{"name": "no path"}], "needs a \"path\""),
    ([{"path": "m.h5", "data": "folder:nowhere"}], "no such folder"),
    ([{"path": "m.h5", "data": "cifar-1000"}], "unknown data set"),
    ([], "no model files"),
])
def test_a_fleet_with_a_wrong_entry_is_refused_naming_it(tmp_path, models, problem):
    (tmp_path / "m.h5").write_bytes(b"x")
    listing = tmp_path / "fleet.json"
    listing.write_text(json.dumps({"models": models}))
    with pytest.raises(UserError) as error:
        read_fleet(listing)
    assert problem in str(error.value)


@pytest.mark.heavy
def test_a_fleet_gets_the_zoo_pages_tables_and_json_and_a_rerun_computes_nothing(tmp_path):
    fleet = tmp_path / "fleet"
    fleet.mkdir()
    save_colour_classifier(fleet / "colours.h5", 32, 4, 3, labels=["red", "green", "blue"])
    (fleet / "colours.h5.json").write_text(json.dumps(
        {"preprocess": {"preset": "tf"}, "labels": "labels.txt"}))
    out = tmp_path / "fleet.md"
    args = ["matrix", "--fleet", fleet, "--out", out, "--samples", "8", "--serial",
            "--artifacts", tmp_path / "work"]
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "| colours | colours.h5 | preset tf | its own held-out photos |" in text
    assert "## TFLite interpreter (LiteRT)" in text and "## ONNX Runtime" in text
    cells = json.loads(out.with_suffix(".json").read_text())["cells"]
    ran = [cell for cell in cells if cell.get("figures")]
    assert {cell["model"] for cell in cells} == {"colours"} and len(ran) >= 10
    assert all(cell["median_ms"] > 0 for cell in ran)  # each timed on its runtime
    again = run_cli(*args)
    assert again.exit_code == 0 and "1 of 1 cells kept" in again.stderr
    assert json.loads(out.with_suffix(".json").read_text())["cells"] == cells
