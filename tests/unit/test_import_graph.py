"""The shape of the package (STYLE.md, issue 17): no import circle among simmodel's modules, no module
using another's private names, agents that never reach back into the model, and stage kernels that
take no model object.

The import graph is built with ``ast`` from every ``import`` statement in simmodel/, wherever it
stands: at module level, inside a function (a lazy import) or under ``if TYPE_CHECKING``. All three
count alike: a lazy import only delays a dependency, it does not remove it, and a circle through one
is still a circle (it only fails later, at the call). An edge goes to the module named, or to the
package whose ``__init__`` defines the imported name; the implicit import of a parent package (which
Python performs for ``import a.b.c``) is not an edge. Each check is shown to fail on planted code.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import simmodel

PACKAGE = Path(simmodel.__file__).resolve().parent


def module_names(root: Path) -> dict[str, Path]:
    """Dotted name -> file, for every module under ``root`` (a package directory)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_edges(root: Path) -> dict[str, dict[str, list[str]]]:
    """module -> {imported module: ['line N (top level)' | 'line N (in a function)', ...]} within the package."""
    modules = module_names(root)
    top = root.name
    graph: dict[str, dict[str, list[str]]] = {m: {} for m in modules}
    for mod, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        nested = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                  for n in ast.walk(f)}
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for t in targets:
                if t.split(".")[0] != top:
                    continue
                dep = _resolve(t, modules)
                if dep and dep != mod:
                    where = "in a function" if id(node) in nested else "top level"
                    graph[mod].setdefault(dep, []).append(f"line {node.lineno} ({where})")
    return graph


def circles(graph: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def describe(graph, group: list[str]) -> str:
    return "; ".join(f"{a} -> {b} ({', '.join(graph[a][b])})" for a in group for b in sorted(graph[a]) if b in group)


def private_uses(root: Path) -> list[str]:
    """Private names (one leading underscore) a module takes from another module of the package:
    ``from simmodel.x import _y`` and ``x._y`` where x is an imported module of the package."""
    modules = module_names(root)
    top = root.name
    found = []
    for mod, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        aliases: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == top:
                for a in node.names:
                    full = f"{node.module}.{a.name}"
                    if full in modules:
                        aliases[a.asname or a.name] = full
                    elif a.name.startswith("_") and not a.name.startswith("__"):
                        found.append(f"{mod}:{node.lineno} imports {a.name} from {node.module}")
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.split(".")[0] == top and a.asname:
                        aliases[a.asname] = a.name
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                found.append(f"{mod}:{node.lineno} uses {aliases[node.value.id]}.{node.attr}")
    return found


def model_reads(path: Path) -> list[str]:
    """Where an agent module reads its model: ``self.model`` or ``<anything>.model.<x>``, or imports simmodel.model."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "model":
            found.append(f"{path.name}:{node.lineno} reads .model")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("simmodel.model"):
            found.append(f"{path.name}:{node.lineno} imports {node.module}")
        elif isinstance(node, ast.Import) and any(a.name.startswith("simmodel.model") for a in node.names):
            found.append(f"{path.name}:{node.lineno} imports simmodel.model")
    return found


def kernel_model_arguments(path: Path) -> list[str]:
    """Functions of a stage module that take a model (a parameter named model or self) or that
    import the model's class."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
            found += [f"{path.name}:{node.lineno} {node.name}({a.arg})" for a in args if a.arg in ("model", "self")]
        elif isinstance(node, ast.ImportFrom) and node.module in ("simmodel.model", "simmodel.model.simulation"):
            found.append(f"{path.name}:{node.lineno} imports {node.module}")
    return found


# ------------------------------------------------------------------------------------------ the checks
def test_the_package_has_no_import_circle():
    graph = import_edges(PACKAGE)
    assert len(graph) > 40 and graph["simmodel.model.simulation"], "the scan found too little: update this test"
    found = circles(graph)
    assert not found, "import circles (every import counts, top level or in a function):\n  " + "\n  ".join(
        describe(graph, g) for g in found)


def test_no_module_uses_another_modules_private_names():
    found = private_uses(PACKAGE)
    assert not found, "make these public (or move them):\n  " + "\n  ".join(found)


@pytest.mark.parametrize("path", sorted((PACKAGE / "agents").glob("*.py")), ids=lambda p: p.name)
def test_agents_never_reach_back_into_the_model(path: Path):
    found = model_reads(path)
    assert not found, "an agent is handed what it needs; it does not read its model:\n  " + "\n  ".join(found)


@pytest.mark.parametrize("path", sorted((PACKAGE / "model" / "stages").glob("*.py")), ids=lambda p: p.name)
def test_stage_kernels_take_no_model(path: Path):
    found = kernel_model_arguments(path)
    assert not found, "a stage is a function of the firm arrays, parameters and a generator:\n  " + "\n  ".join(found)


# ------------------------------------------------------------------------------- the checks can fail
def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for name, src in {"__init__.py": "", **files}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(src, encoding="utf-8")
    return root


def test_a_circle_through_a_lazy_import_is_found(tmp_path):
    root = _package(tmp_path, {"a.py": "from pkg.b import g\n", "b.py": "def g():\n    from pkg import a\n",
                               "c.py": "import pkg.a\n"})
    graph = import_edges(root)
    assert graph["pkg.b"]["pkg.a"] == ["line 2 (in a function)"]
    assert circles(graph) == [["pkg.a", "pkg.b"]]


def test_a_circle_through_a_package_init_and_relative_imports_is_found(tmp_path):
    root = _package(tmp_path, {"sub/__init__.py": "from .x import X\n", "sub/x.py": "from ..y import Y\nX = 1\n",
                               "y.py": "from pkg.sub import X\nY = 2\n"})
    assert circles(import_edges(root)) == [["pkg.sub", "pkg.sub.x", "pkg.y"]]


def test_no_circle_in_a_chain(tmp_path):
    root = _package(tmp_path, {"a.py": "import pkg.b\n", "b.py": "from pkg import c\n", "c.py": "import numpy\n"})
    assert circles(import_edges(root)) == []


def test_private_names_are_found(tmp_path):
    root = _package(tmp_path, {"a.py": "_h = 1\n", "b.py": "from pkg.a import _h\n",
                               "c.py": "from pkg import a\nx = a._h\n", "d.py": "import pkg.a as m\ny = m._h\n"})
    assert sorted(private_uses(root)) == ["pkg.b:1 imports _h from pkg.a", "pkg.c:2 uses pkg.a._h", "pkg.d:2 uses pkg.a._h"]


def test_an_agent_that_reads_its_model_is_found(tmp_path):
    src = "class G:\n    def act(self):\n        return self.model.firms\n"
    path = tmp_path / "agent.py"
    path.write_text(src, encoding="utf-8")
    assert model_reads(path) == ["agent.py:3 reads .model"]
    path.write_text("from simmodel.model import SimModel\n", encoding="utf-8")
    assert model_reads(path) == ["agent.py:1 imports simmodel.model"]


def test_a_kernel_that_takes_the_model_is_found(tmp_path):
    path = tmp_path / "stage.py"
    path.write_text("def grow(model, q):\n    pass\n\ndef ok(firms, *, rng):\n    pass\n", encoding="utf-8")
    assert kernel_model_arguments(path) == ["stage.py:1 grow(model)"]
