"""The code keeps rooms a reader can live in: no import circle among the project's modules, no import from a lower
layer back up (helper modules never load a numbered script, a bench or a test), no module over 600 lines (bench/ and
tests/ aside), no class over 150 lines, and every bench a page or two (at most 300 lines). Read from the source with
``ast``: nothing is imported."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = {path.stem: path for path in sorted(ROOT.glob("*.py"))}
MAX_MODULE_LINES = 600
MAX_CLASS_LINES = 150
MAX_BENCH_LINES = 300  # "each bench script a page or two"; shared set-up lives in bench/bench_common.py
UPPER_LAYERS = ("bench", "tests", "conftest", "helpers_")  # what the helper modules must never import
LOADERS = {"import_module", "spec_from_file_location", "run_path", "run_module", "__import__"}


def imported_modules(path: Path) -> set[str]:
    """The project modules ``path`` imports, at its top or inside a function (a late import still ties them)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return {name for name in names if name in MODULES and name != path.stem}


def find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` (module -> modules it imports), as a path that ends where it starts."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for other in sorted(graph[module]):
            if state.get(other) == 1:
                return path[path.index(other):] + [other]
            if other not in state and (circle := visit(other)):
                return circle
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (circle := visit(module)):
            return circle
    return None


def test_find_circle_finds_one_and_only_one() -> None:
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_circle_among_the_project_modules() -> None:
    graph = {name: imported_modules(path) for name, path in MODULES.items()}
    assert "functions_audio" in graph["03_launch_classifier"] | set().union(*graph.values())
    circle = find_circle(graph)
    assert circle is None, "import circle: " + " -> ".join(circle or [])


def test_no_module_over_600_lines_and_no_class_over_150() -> None:
    long_modules, long_classes = [], []
    for path in MODULES.values():
        text = path.read_text()
        lines = text.count("\n")
        if lines > MAX_MODULE_LINES:
            long_modules.append(f"{path.name} ({lines})")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno + 1 > MAX_CLASS_LINES:
                long_classes.append(f"{path.name}:{node.name} ({node.end_lineno - node.lineno + 1})")
    assert not long_modules, f"modules over {MAX_MODULE_LINES} lines: {long_modules}"
    assert not long_classes, f"classes over {MAX_CLASS_LINES} lines: {long_classes}"


def upward_imports(path: Path) -> list[str]:
    """What helper module ``path`` loads from a layer above it: a bench or test module by import, or a numbered
    script (``0N_*.py``) or bench/test file named to importlib or runpy."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.startswith(UPPER_LAYERS)]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(UPPER_LAYERS):
            found.append(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) in LOADERS:
            found += [arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
                      and (arg.value[:1].isdigit() or arg.value.startswith(UPPER_LAYERS))]
    return found


def test_upward_imports_are_found(tmp_path: Path) -> None:
    module = tmp_path / "functions_example.py"
    module.write_text("import runpy\nimport bench.bench_common\nrunpy.run_path('03_launch_classifier.py')\n"
                      "import numpy\nprint('run python 00_preprocess_music.py first')\n")
    assert upward_imports(module) == ["bench.bench_common", "03_launch_classifier.py"]


def test_helper_modules_never_import_a_layer_above_them() -> None:
    found = {path.name: names for name, path in MODULES.items() if name.startswith("functions_")
             if (names := upward_imports(path))}
    assert not found, f"helper modules loading a numbered script, bench or test: {found}"


def test_every_bench_is_a_page_or_two() -> None:
    benches = sorted((ROOT / "bench").glob("*.py"))
    assert len(benches) >= 10
    long = [f"{path.name} ({lines})" for path in benches if (lines := path.read_text().count("\n")) > MAX_BENCH_LINES]
    assert not long, f"bench files over {MAX_BENCH_LINES} lines (shared set-up goes to bench/bench_common.py): {long}"


def test_bench_scripts_are_bench_star_and_their_helpers_are_not() -> None:
    """A reader tells a bench from a helper by its name: bench/bench_*.py are scripts (a ``__main__`` block, so
    ``--help`` answers), bench_common.py and the modules without the prefix are imported by them and run nothing."""
    misnamed = []
    for path in sorted((ROOT / "bench").glob("*.py")):
        script = 'if __name__ == "__main__":' in path.read_text()
        if script != (path.name.startswith("bench_") and path.name != "bench_common.py"):
            misnamed.append(path.name)
    assert not misnamed, f"bench scripts must be bench_*.py and helper modules not: {misnamed}"
