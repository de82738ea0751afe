"""The layering of helpers/: no module imports, directly or through others, a module that imports it back.

Every import of a course module counts, at the top of a file or inside a function (a lazy import still makes
the two modules depend on each other; it only hides the circle until run time).
"""

import ast
import sys
from pathlib import Path

HELPERS = Path(__file__).resolve().parents[1] / "helpers"


def module_name(path: Path) -> str:
    """helpers/datagen/facts.py -> 'datagen.facts'; helpers/data.py -> 'data'; a package's __init__ -> its name."""
    parts = list(path.relative_to(HELPERS).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The course modules that the file at `path` imports, wherever the import stands."""
    here = module_name(path)
    package = here.split(".") if path.name == "__init__.py" else here.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name.removeprefix("helpers.") for a in node.names if a.name.startswith("helpers.")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
            elif node.module and (node.module == "helpers" or node.module.startswith("helpers.")):
                base = []
            else:
                continue
            module = (node.module or "").removeprefix("helpers").lstrip(".") if not node.level else (node.module or "")
            prefix = [*base, *module.split(".")] if module else base
            # `from . import data, env` names modules; `from .data import load_facts` names the module data.
            names = [".".join([*prefix, a.name]) if ".".join([*prefix, a.name]) in known else ".".join(prefix)
                     for a in node.names]
        else:
            continue
        found.update(name for name in names if name in known and name != here)
    return found


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in HELPERS.rglob("*.py")}
    known = set(files) - {""}
    return {name: imports_of(path, known) for name, path in files.items() if name}


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (or a module importing itself), sorted."""
    index, low, stack, on_stack, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
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
            if len(group) > 1 or v in edges.get(v, ()):
                out.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(out)


def test_the_circle_finder_finds_circles_and_only_circles():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set(), "c": {"b"}}) == []
    assert circles({"stats": {"systems"}, "systems": {"stats"}, "data": {"evaluate"}, "evaluate": {"data"}}) == [
        ["data", "evaluate"], ["stats", "systems"]]


def test_the_import_reader_sees_lazy_and_relative_imports(tmp_path, monkeypatch):
    pkg = tmp_path / "helpers"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "a.py").write_text("def f():\n    from .b import g\n    return g\n")
    (pkg / "b.py").write_text("from . import a\nimport helpers.c\n")
    (pkg / "c.py").write_text("from helpers.sub import d\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "d.py").write_text("from ..a import f\nfrom .e import x\n")
    (pkg / "sub" / "e.py").write_text("import json\n")
    monkeypatch.setattr(sys.modules[__name__], "HELPERS", pkg)
    edges = graph()
    assert edges["a"] == {"b"} and edges["b"] == {"a", "c"} and edges["c"] == {"sub.d"}
    assert edges["sub.d"] == {"a", "sub.e"} and edges["sub.e"] == set()
    assert circles(edges) == [["a", "b", "c", "sub.d"]]


def test_helpers_have_no_import_circles():
    edges = graph()
    assert {"stats", "systems", "data", "evaluate", "textnorm"} <= set(edges)
    found = circles(edges)
    assert not found, ("import circles among helpers/ modules (statistics belong in stats, normalisation in "
                       f"textnorm; move the shared function down instead of importing upwards): {found}")


def test_the_bottom_modules_import_no_course_module():
    edges = graph()
    assert edges["stats"] == set() and edges["textnorm"] == set()
