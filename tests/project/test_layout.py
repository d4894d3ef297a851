"""The house: each layer imports only from the layers under it, no module imports itself back in
a circle, no file is over 400 lines, and what describes the folders (the README's layout table,
pyproject's package list, the test folders) matches them."""

import ast
import re
import tomllib
from pathlib import Path

import pytest

from support import ROOT


# where each installed package lives (pyproject's package-dir)
PACKAGE_DIRS = {"deploytool": ROOT / "deploytool", "deploytool.models": ROOT / "models",
                "deploytool.converters": ROOT / "converters"}
# bottom to top: a module imports from its own layer or the ones before it
LAYERS = ("core", "models", "sources", "converters", "runtimes", "workflows", "cluster", "reports",
          "cli", "__main__")
MAX_LINES = 400


def module_files() -> dict[str, Path]:
    """Every module of the installed deploytool package by its dotted name."""
    found = {}
    for package, folder in PACKAGE_DIRS.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            name = ".".join([package, *parts])
            if package == "deploytool" and len(parts) and parts[0] in ("models", "converters"):
                continue  # not there: those folders are the mapped top-level ones
            found[name] = path
    return found


MODULES = module_files()


def imports_of(name: str) -> set[str]:
    """The deploytool modules ``name`` imports, at module level or inside functions."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                       for alias in node.names]
        else:
            continue
        found.update(target for target in targets if target in MODULES and target != name)
    return found


GRAPH = {name: imports_of(name) for name in MODULES}


def layer(name: str) -> int:
    """The index of ``name``'s layer (the package root sits under everything)."""
    parts = name.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 else -1


def test_every_module_sits_in_a_layer():
    assert all(name == "deploytool" or name.split(".")[1] in LAYERS for name in MODULES), \
        sorted(name for name in MODULES if name != "deploytool" and name.split(".")[1] not in LAYERS)


def test_no_module_imports_from_a_layer_above_it():
    upward = [f"{name} -> {target}" for name, targets in GRAPH.items() for target in targets
              if layer(target) > layer(name)]
    assert upward == []


# workflows/ by role, bottom to top: the modules directly in the folder (what every job shares),
# then its sub-packages; a workflow imports only from its own sub-package or those before it
WORKFLOW_LAYERS = ("", "training", "conversion", "layer_search", "measuring", "verification",
                   "quantization", "pipeline")


def workflow_layer(name: str) -> int | None:
    """The index of a workflows module's sub-package (None for a module outside workflows)."""
    parts = name.split(".")
    if parts[1:2] != ["workflows"] or len(parts) < 3:
        return None
    package = parts[2] if len(parts) > 3 or MODULES[name].name == "__init__.py" else ""
    return WORKFLOW_LAYERS.index(package) if package in WORKFLOW_LAYERS else -1


def test_every_workflow_sits_in_a_role_and_imports_only_from_those_below():
    assert [name for name in MODULES if workflow_layer(name) == -1] == []
    upward = [f"{name} -> {target}" for name, targets in GRAPH.items() for target in targets
              if workflow_layer(name) is not None and workflow_layer(target) is not None
              and workflow_layer(target) > workflow_layer(name)]
    assert upward == []


def test_no_import_circles():
    """Tarjan's strongly connected components of the module graph: every one of them alone."""
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in GRAPH[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for name in GRAPH:
        if name not in index:
            visit(name)
    assert circles == []


@pytest.mark.parametrize("folder", ["deploytool", "models", "converters", "tests", "benchmarks"])
def test_no_file_is_over_400_lines(folder):
    long = {str(path.relative_to(ROOT)): count for path in (ROOT / folder).rglob("*.py")
            if (count := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def package_folders() -> list[str]:
    """Every package folder of the installed package, relative to the repository root."""
    return sorted(str(path.parent.relative_to(ROOT)) + "/" for name, path in MODULES.items()
                  if path.name == "__init__.py")


def test_the_readme_layout_table_names_every_package_folder_and_only_real_ones():
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Layout"):]
    section = section[:section.index("\n## ", 4)]
    named = re.findall(r"^\| `([^`]+)`", section, re.M)
    assert [path for path in named if not (ROOT / path).exists()] == []
    assert [folder for folder in package_folders() if folder not in named] == []


def test_pyproject_installs_every_package_folder():
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = sorted(name for name, path in MODULES.items() if path.name == "__init__.py")
    assert sorted(settings["packages"]) == packages
    assert {name: str(ROOT / folder) for name, folder in settings["package-dir"].items()} == \
        {name: str(folder) for name, folder in PACKAGE_DIRS.items()}


def test_the_tests_mirror_the_packages():
    expected = {*LAYERS[:-1], "project", "android"}
    folders = {path.name for path in (ROOT / "tests").iterdir() if path.is_dir()
               and any(path.glob("test_*.py"))}
    assert folders == expected


# Forms in which code once decided on its own words (issue 35): a decision threshold parsed
# back from "over 0.5", failures classified by how their text begins, a data set's kind read
# from its name at each use. Records carry those as fields now; words are for people.
PROSE_AS_DATA = {
    r"\.split\(\)\[-1\]": "a number parsed back out of a phrase",
    r"FIGURE_FAILURES|DIVERGENCE_NOTES": "failures classified by the words they begin with",
    r"startswith\(CRITERION_PREFIXES": "failures classified by the words they begin with",
    r'endswith\("\.npy"\)': "a data source's kind read from its name at its use",
}
# the one place each form is the rule itself
PROSE_RULES = {("deploytool/sources/datasets.py", 'return name.endswith(".npy")')}


def test_no_code_below_the_cli_and_reports_decides_on_its_own_words():
    found = []
    for name, path in MODULES.items():
        if name.split(".")[1:2] in (["cli"], ["reports"]):
            continue
        where = str(path.relative_to(ROOT))
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if (where, line.strip()) in PROSE_RULES or line.lstrip().startswith("#"):
                continue
            found += [f"{where}:{number}: {what}" for pattern, what in PROSE_AS_DATA.items()
                      if re.search(pattern, line)]
    assert found == []


def test_only_the_manifest_class_reads_a_manifest_as_raw_json():
    raw = re.compile(r"manifest\[|manifest\.get\(|\.record\[|\.record\.get\(")
    found = [f"{path.relative_to(ROOT)}:{number}" for name, path in MODULES.items()
             if name != "deploytool.core.manifest"
             for number, line in enumerate(path.read_text().splitlines(), 1) if raw.search(line)]
    assert found == []


def test_no_function_in_the_package_is_over_80_lines():
    long = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                long += [f"{name}.{node.name}: {length}"] if length > 80 else []
    assert long == []


# the one child protocol (issue 35); a benchmark that times the command line runs it as a user would
PROCESS_STARTERS = re.compile(r"^\s*(import|from) (subprocess|multiprocessing)\b|os\.fork\(|os\.exec|"
                              r"os\.spawn|os\.system\(", re.MULTILINE)
# and the installer of the environments of their own runs its steps (pip, and apt-get and dpkg
# for the ARM64 sysroot) through install_steps.run_step; a local Ray cluster's nodes are started
# by Ray's own `ray start`
STARTS_PROCESSES = {"deploytool/core/child.py", "deploytool/core/install_steps.py",
                    "deploytool/cluster/local_cluster.py",
                    "benchmarks/train_speed.py", "benchmarks/matrix_on_ray.py"}


def test_only_the_child_protocol_starts_processes():
    files = [*(ROOT / "deploytool").rglob("*.py"), *(ROOT / "benchmarks").rglob("*.py")]
    found = [str(path.relative_to(ROOT)) for path in files
             if str(path.relative_to(ROOT)) not in STARTS_PROCESSES
             and PROCESS_STARTERS.search(path.read_text())]
    assert found == []
