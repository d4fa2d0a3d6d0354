"""The house rules of the code base, checked on the sources (issue #10).

- `import cnn_core` does not import torch, nor do the shape calculator's modules;
- no import cycle among cnn_core modules (module-level imports, as Python runs them);
- no cnn_core module over 400 lines except data tables, no page over 150 lines, and no page
  imports torch;
- every cnn_core module has a docstring.

Each test reports every offender at once.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "cnn_core"
PAGES = REPO_ROOT / "app_pages"

# The dashboard's landing modules and the shape calculator's: none of them may pull in torch.
TORCH_FREE = [
    "cnn_core",
    "cnn_core.arch.calculator",
    "cnn_core.arch.shapes",
    "cnn_core.arch.spec",
    "cnn_core.arch.summary",
    "cnn_core.arch.formatting",
    "cnn_core.arch.layer_text",
    "cnn_core.arch.presets",
    "cnn_core.arch.output",
    "cnn_core.arch.spec_link",
    "cnn_core.arch.spec_text",
    "cnn_core.arch.budget",
    "cnn_core.data.catalog",
    "cnn_core.train.config",
    "cnn_core.train.schedules",
    "cnn_core.runs.directory",
    "cnn_core.runs.visitors",
    "cnn_core.runs.demo",
    "cnn_core.runs.examples",
    "cnn_core.runs.launcher",
    "cnn_core.figures.calculator",
    "cnn_core.figures.architecture",
]

MAX_MODULE_LINES = 400
MAX_PAGE_LINES = 150
# Modules allowed over MAX_MODULE_LINES, each with its reason: data tables, not code.
LONG_MODULES = {}

# Run in a fresh interpreter: import the module, then report whether torch came in and, if so,
# the chain of the repository's source lines that imported it.
TORCH_PROBE = r"""
import importlib, os, sys, traceback

chain = []


class Spy:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name in ("torch", "torchvision") and not chain:
            chain.extend(
                f"{os.path.relpath(frame.filename)}:{frame.lineno}"
                for frame in traceback.extract_stack()
                if frame.filename.startswith(os.getcwd() + os.sep)
            )
        return None


sys.meta_path.insert(0, Spy)
importlib.import_module(sys.argv[1])
if "torch" in sys.modules:
    print(" -> ".join(chain) or "torch imported")
    sys.exit(3)
"""


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def cnn_core_modules() -> dict[str, Path]:
    modules = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}
    assert "cnn_core.arch.summary" in modules, "the module scan found nothing"
    return modules


def relative(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT))


# ---------------------------------------------------------------- no torch on import


def test_import_cnn_core_and_the_calculator_modules_does_not_import_torch():
    """One fresh interpreter per module (in parallel): an import in one would hide the others'."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    probes = {
        module: subprocess.Popen(
            [sys.executable, "-c", TORCH_PROBE, module],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for module in TORCH_FREE
    }
    problems = []
    for module, probe in probes.items():
        try:
            stdout, stderr = probe.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            probe.kill()
            probe.communicate()
            problems.append(f"{module}: the import did not finish (hung)")
            continue
        if probe.returncode == 3:
            problems.append(f"{module} imports torch: {stdout.strip()}")
        elif probe.returncode != 0:
            problems.append(f"{module} fails to import: {stderr.strip().splitlines()[-1:]}")
    assert not problems, "modules that must stay torch-free:\n" + "\n".join(f"  - {p}" for p in problems)


# ---------------------------------------------------------------- no import cycle


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def module_level_imports(statements: list[ast.stmt]):
    """Import statements run when the module is imported: at the top level and inside top-level
    if/try/with/class blocks, but not in functions nor under `if TYPE_CHECKING:`."""
    for node in statements:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from module_level_imports(node.body)
            yield from module_level_imports(node.orelse)
        elif isinstance(node, ast.Try | ast.TryStar):
            for block in (node.body, *(handler.body for handler in node.handlers), node.orelse, node.finalbody):
                yield from module_level_imports(block)
        elif isinstance(node, ast.With | ast.ClassDef):
            yield from module_level_imports(node.body)


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the cnn_core modules whose code runs first when it is imported.

    `from cnn_core.x import y` is the module cnn_core.x.y when y is a submodule, else cnn_core.x.
    Importing cnn_core.a.b runs the __init__ of cnn_core.a (and of cnn_core) first, so those are
    edges too, except the importer's own parent packages: Python has already started them
    before it runs the importer, so it never runs them again.
    """
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        package = name if is_package else name.rpartition(".")[0]
        own_parents = set(_parents(name))
        targets: set[str] = set()
        for node in module_level_imports(ast.parse(path.read_text(encoding="utf-8"), str(path)).body):
            if isinstance(node, ast.Import):
                found = [alias.name for alias in node.names]
            else:
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - (node.level - 1)]
                    origin = ".".join(base + ([node.module] if node.module else []))
                else:
                    origin = node.module or ""
                found = [
                    f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in modules else origin for alias in node.names
                ]
            for target in found:
                if target.split(".")[0] != "cnn_core":
                    continue
                targets.add(target)
                targets.update(parent for parent in _parents(target) if parent not in own_parents)
        graph[name] = {target for target in targets if target in modules and target != name}
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle a depth-first search meets (one per back edge), each as a closed path a -> ... -> a."""
    cycles: list[list[str]] = []
    seen: set[tuple[str, ...]] = set()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt) :]
                start = cycle.index(min(cycle))
                key = tuple(cycle[start:] + cycle[:start])
                if key not in seen:
                    seen.add(key)
                    cycles.append([*key, key[0]])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def test_cycle_finder_on_a_small_graph():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e2"}, "e2": {"e"}}
    assert find_cycles(graph) == [["a", "b", "c", "a"], ["e", "e2", "e"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_import_graph_sees_module_level_imports_only(tmp_path):
    source = (
        "from typing import TYPE_CHECKING\n"
        "import cnn_core.arch.shapes\n"
        "from cnn_core.arch import spec\n"
        "from cnn_core.i18n import t\n"
        "from .formatting import something\n"
        "try:\n    from cnn_core.data import catalog\nexcept ImportError:\n    pass\n"
        "if TYPE_CHECKING:\n    from cnn_core.train import config\n"
        "def later():\n    from cnn_core.runs import directory\n"
    )
    probe = tmp_path / "probe.py"
    probe.write_text(source)
    modules = {**cnn_core_modules(), "cnn_core.arch.probe": probe}
    assert import_graph(modules)["cnn_core.arch.probe"] == {
        "cnn_core.arch.shapes",
        "cnn_core.arch.spec",
        "cnn_core.arch.formatting",
        "cnn_core.i18n",
        "cnn_core.data.catalog",
        "cnn_core.data",  # the parent package's __init__ runs first; cnn_core.arch and cnn_core already ran
    }


def test_no_import_cycle_among_cnn_core_modules():
    graph = import_graph(cnn_core_modules())
    assert sum(map(len, graph.values())) > 20, "the import scan found almost no edges"
    cycles = find_cycles(graph)
    assert not cycles, f"{len(cycles)} import cycles among cnn_core modules (module-level imports):\n" + "\n".join(
        "  - " + " -> ".join(cycle) for cycle in cycles
    )


# ---------------------------------------------------------------- sizes, pages, docstrings


def line_count(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def test_no_module_over_400_lines_except_data_tables():
    too_long = [
        f"{relative(path)}: {line_count(path)} lines"
        for path in sorted(PACKAGE.rglob("*.py"))
        if relative(path) not in LONG_MODULES and line_count(path) > MAX_MODULE_LINES
    ]
    stale = [name for name in LONG_MODULES if not (REPO_ROOT / name).is_file()]
    assert not stale, f"allowed long modules that no longer exist: {stale}"
    assert not too_long, f"cnn_core modules over {MAX_MODULE_LINES} lines (split them):\n" + "\n".join(
        f"  - {line}" for line in too_long
    )


def test_no_page_over_150_lines():
    pages = sorted(PAGES.rglob("*.py"))
    assert pages, "no page found"
    too_long = [f"{relative(p)}: {line_count(p)} lines" for p in pages if line_count(p) > MAX_PAGE_LINES]
    assert not too_long, f"pages over {MAX_PAGE_LINES} lines (move logic into cnn_core):\n" + "\n".join(
        f"  - {line}" for line in too_long
    )


def test_pages_never_import_torch():
    offenders = []
    for path in sorted(PAGES.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            offenders += [
                f"{relative(path)}:{node.lineno}: {n}" for n in names if n.split(".")[0] in ("torch", "torchvision")
            ]
    assert not offenders, "pages importing torch (use cnn_core, which imports it lazily):\n" + "\n".join(
        f"  - {line}" for line in offenders
    )


def test_every_cnn_core_module_has_a_docstring():
    missing = [
        relative(path)
        for path in sorted(PACKAGE.rglob("*.py"))
        if not (ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or "").strip()
    ]
    assert not missing, "cnn_core modules without a module docstring:\n" + "\n".join(f"  - {m}" for m in missing)
