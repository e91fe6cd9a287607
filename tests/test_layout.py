"""The package's layout: layers that import one way, no import cycle, and a reason beside every import
that had to stay inside a function (the README's "What is where" lists the same layers)."""
import ast
import os

import pytest

pytestmark = pytest.mark.unit

ROOT = os.path.join(os.path.dirname(__file__), os.pardir, "snnlab")
# lowest first: a module may import (at module level) only from its own layer or the layers before it
LAYERS = ["_version", "devices", "data", "runs", "models", "purifiers", "attacks", "training", "pretrained",
          "evaluation", "poisoning", "course", "report", "cli", "__main__"]


def modules() -> dict:
    """Dotted module name -> path, for every module of the package."""
    found = {}
    for folder, _, files in os.walk(ROOT):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(folder, f)
                name = "snnlab." + os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                found[name.removesuffix(".__init__")] = path
    return found


def reason(lines: list, lineno: int) -> str:
    """The line above the block of imports that holds line ``lineno`` (1-based)."""
    i = lineno - 2
    while i >= 0 and lines[i].strip().startswith(("from ", "import ")):
        i -= 1
    return lines[i].strip() if i >= 0 else ""


def imports(name: str, path: str, names: dict):
    """(target module, at module level?, line, the line above its block) for each import of ``name`` from the
    package."""
    package = name if path.endswith("__init__.py") else name.rsplit(".", 1)[0]
    with open(path) as f:
        source = f.read()
    lines = source.split("\n")
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ImportFrom) or not (node.level or (node.module or "").startswith("snnlab")):
            continue
        if node.level:
            parts = package.split(".")
            base = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
        else:
            base = node.module
        targets = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in names] or [base]
        for target in targets:
            yield target, node.col_offset == 0, node.lineno, reason(lines, node.lineno)


def layer(name: str) -> str:
    parts = name.split(".")
    return parts[1].removesuffix(".py") if len(parts) > 1 else "snnlab"


def edges():
    names = modules()
    return [(name, *edge) for name, path in names.items() for edge in imports(name, path, names)]


def test_every_subpackage_and_top_module_has_a_layer():
    tops = {layer(n) for n in modules()} - {"snnlab", "weights", "results"}
    assert tops <= set(LAYERS), f"give these a place in LAYERS (and the README): {sorted(tops - set(LAYERS))}"


def test_module_level_imports_run_one_way():
    upward = [f"{a} -> {b}" for a, b, top, _, _ in edges()
              if top and layer(b) in LAYERS and layer(a) in LAYERS and LAYERS.index(layer(b)) > LAYERS.index(layer(a))]
    assert upward == []


def test_no_import_cycle_between_modules():
    graph = {}
    for a, b, top, _, _ in edges():
        if top and b != a and not b == "snnlab":
            graph.setdefault(a, set()).add(b)
    state, cycle = {}, []

    def visit(node, path):
        state[node] = "open"
        for nxt in graph.get(node, ()):
            if state.get(nxt) == "open":
                cycle.append(path + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in list(graph):
        if node not in state:
            visit(node, [node])
    assert cycle == []


def test_an_import_inside_a_function_says_why():
    silent = [f"{a}:{line} -> {b}" for a, b, top, line, above in edges()
              if not top and not above.startswith("# imported here, not at the top:")]
    assert silent == []


def test_every_import_the_readme_and_the_book_show_works():
    """The library examples' import lines (README and book pages) name modules and names that exist."""
    import glob
    import importlib
    import re

    root = os.path.join(os.path.dirname(__file__), os.pardir)
    pages = [os.path.join(root, "README.md"), *glob.glob(os.path.join(root, "book", "**", "*.md"), recursive=True)]
    lines = {m.group(0) for p in pages if "_build" not in p for m in
             re.finditer(r"(?m)^from snnlab[\w.]* import [\w, ]+$", open(p, encoding="utf-8").read())}
    assert lines, "no import lines found"
    for line in sorted(lines):
        module, names = line[5:].split(" import ")
        mod = importlib.import_module(module)
        for name in (n.strip() for n in names.split(",")):
            assert hasattr(mod, name) or importlib.util.find_spec(f"{module}.{name}"), line
