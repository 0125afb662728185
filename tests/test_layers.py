"""The house: studio's packages form layers, each importing only those below it; no import cycles.

Imports inside functions count, as do `import x.y` and relative imports. The order is studio.LAYERS;
components/ sits on top of the engine and the engine never imports it (nor gradio).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import studio
from tests.support import ROOT

PACKAGES = ("studio", "components")


def module_files() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for f in (ROOT / pkg).rglob("*.py"):
            name = ".".join(f.relative_to(ROOT).with_suffix("").parts)
            out[name.removesuffix(".__init__")] = f
    return out


MODULES = module_files()


def imports_of(name: str) -> set[str]:
    """The project modules `name` imports, anywhere in its body."""
    path = MODULES[name]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([base] if base else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(target + "."):
                out.add(target)
    return out


def layer_of(module: str) -> str:
    """The package of studio.LAYERS a module belongs to ("components" above them all)."""
    parts = module.split(".")
    if parts[0] == "components":
        return "components"
    return parts[1] if len(parts) > 1 and parts[1] in studio.LAYERS else "studio"


RANK = {name: i for i, name in enumerate(("studio", *studio.LAYERS, "components"))}


def test_every_engine_package_is_a_layer():
    packages = {p.name for p in (ROOT / "studio").iterdir() if (p / "__init__.py").exists()}
    assert packages == set(studio.LAYERS)
    loose = sorted(p.name for p in (ROOT / "studio").glob("*.py") if p.name != "__init__.py")
    assert loose == [], "every engine module lives in the package of its layer"


def test_imports_point_down_the_layers():
    upward = []
    for name in sorted(MODULES):
        here = layer_of(name)
        for target in sorted(imports_of(name)):
            there = layer_of(target)
            if here != there and RANK[there] > RANK[here]:
                upward.append(f"{name} ({here}) imports {target} ({there})")
            if here == "studio" and there != "studio":
                upward.append(f"{name} is studio/__init__ and imports {target}")
    assert upward == []


def test_each_package_docstring_names_what_it_imports():
    """Each layer's docstring ends with an 'Imports: ...' line naming the lower layers it uses, kept true."""
    wrong = []
    for layer in studio.LAYERS:
        doc = ast.get_docstring(ast.parse((ROOT / "studio" / layer / "__init__.py").read_text(encoding="utf-8"))) or ""
        m = re.search(r"^Imports: (.*?)(?:\n\n|\Z)", doc, re.M | re.S)  # the line and its continuation
        said = " ".join(m.group(1).split()) if m else ""
        declared = set() if said == "nothing of the studio." else {s.strip(" .") for s in said.split(",")}
        used = {layer_of(t) for n in MODULES if layer_of(n) == layer for t in imports_of(n)} - {layer, "studio"}
        if m is None:
            wrong.append(f"studio/{layer}/__init__.py has no 'Imports:' line")
        elif declared != used:
            wrong.append(f"studio.{layer} says it imports {sorted(declared)}, imports {sorted(used)}")
    assert wrong == []


def test_no_import_cycles_counting_imports_inside_functions():
    graph = {name: imports_of(name) for name in MODULES}
    index, low, stack, on, cycles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    assert cycles == []


def test_the_engine_never_imports_the_ui():
    offenders = [n for n in MODULES if n.startswith("studio") and (
        any(t.startswith("components") for t in imports_of(n))
        or re.search(r"^\s*(import gradio|from gradio)", MODULES[n].read_text(encoding="utf-8"), re.M))]
    assert offenders == []


ROOMS = ("data", "model", "tokens", "training", "report", "predict")  # studio/tasks/base.py's docstring says why


def _task_packages() -> dict[str, Path]:
    from studio.tasks import TASK_MODULES

    return {module: ROOT.joinpath(*module.split(".")) for module in TASK_MODULES.values()}


def _named_imports(path: Path) -> set[str]:
    """Every absolute module an `import` or `from ... import` in the file names, the package's own included."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return out


def test_every_task_has_the_same_rooms():
    """A task reads the same way as every other: its rooms, and an __init__ that holds its Settings, capability
    classes and TASK but no functions of its own."""
    wrong = []
    for module, folder in _task_packages().items():
        missing = [room for room in ROOMS if not (folder / f"{room}.py").exists()]
        if missing:
            wrong.append(f"{module} lacks {missing}")
        tree = ast.parse((folder / "__init__.py").read_text(encoding="utf-8"))
        functions = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        if functions:
            wrong.append(f"{module}/__init__.py defines functions {functions}: they belong in a room")
    assert wrong == []


def test_no_task_imports_a_sibling_and_no_room_imports_its_own_task():
    """Shared code lives below the tasks (studio.tasks.base, loading, chat); a room importing its package's
    __init__ would be a cycle, since the __init__ imports the rooms."""
    tasks = _task_packages()
    wrong = []
    for module, folder in tasks.items():
        for f in folder.glob("*.py"):
            for target in _named_imports(f):
                sibling = next((t for t in tasks if t != module and (target == t or target.startswith(t + "."))), None)
                if sibling:
                    wrong.append(f"{f.relative_to(ROOT)} imports {target}")
                if f.name != "__init__.py" and target == module:
                    wrong.append(f"{f.relative_to(ROOT)} imports its own package's __init__")
    assert wrong == []


def test_the_engine_docstring_lists_the_layers_in_their_order():
    listed = re.findall(r"^    (\w+) {2,}", studio.__doc__, re.M)
    assert tuple(listed) == studio.LAYERS


def test_no_package_binds_a_name_one_of_its_modules_has():
    """`from studio.export.bundle import model_card` in a package that also has a module model_card.py: whichever
    is imported last wins the name, so `export.model_card(...)` worked or called a module depending on what other
    code had imported before. A package's __init__ binds no name that a module of its own has (except to that
    module, `from studio.cli import admin_commands`, or a name from the module of that name)."""
    clashes = []
    for init in sorted((ROOT / "studio").rglob("__init__.py")) + sorted((ROOT / "components").rglob("__init__.py")):
        folder = init.parent
        package = ".".join(folder.relative_to(ROOT).parts)
        modules = {p.stem for p in folder.glob("*.py")}
        modules |= {p.name for p in folder.iterdir() if (p / "__init__.py").is_file()}
        for node in ast.parse(init.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ImportFrom):
                # Safe: the module itself, or a name from the module of that name (`from studio.models.resolve
                # import resolve` loads that module first, so the name it binds always wins).
                names = [(a.asname or a.name, node.module in (package, f"{package}.{a.asname or a.name}"))
                         for a in node.names]
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                names = [(node.name, False)]
            elif isinstance(node, ast.Assign):
                names = [(t.id, False) for t in node.targets if isinstance(t, ast.Name)]
            else:
                continue
            clashes += [f"{init.relative_to(ROOT)} binds {name}, a module of its own"
                        for name, is_that_module in names if name in modules - {"__init__"} and not is_that_module]
    assert clashes == []
