"""Standalone Python source made of the studio's own functions: what a reproduce script is built from.

`ScriptSource.add(fn)` copies a studio function or class verbatim (inspect.getsource) and,
recursively, everything it names: other studio functions, classes and constants by their own
source, third-party names by the import statement their module used. The result runs without the
studio installed, and it cannot drift from what a run did, because it is that code.

What cannot be copied is refused with the place to change (a `ScriptSourceError`): a studio
module used as a module (`runlog.write_status` inside a copied function), a studio import inside
a function, a name bound twice to different things, a global the module does not define.
"""

from __future__ import annotations

import ast
import builtins
import functools
import inspect
import symtable
import sys
import textwrap
from types import ModuleType
from typing import Any

STUDIO = "studio"
PIP_NAMES = {"sklearn": "scikit-learn", "yaml": "pyyaml", "google": "protobuf"}


class ScriptSourceError(RuntimeError):
    """Studio code that cannot be copied into a standalone script; the message says where and why."""


@functools.lru_cache(maxsize=None)
def _module_index(module_name: str) -> tuple[str, dict[str, ast.stmt], dict[str, ast.stmt]]:
    """(source, {name: the top-level statement binding it}, {name: the import binding it under TYPE_CHECKING})."""
    src = inspect.getsource(sys.modules[module_name])
    names: dict[str, ast.stmt] = {}
    typing_only: dict[str, ast.stmt] = {}
    for node in ast.parse(src).body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for sub in node.body:
                for name in _bound(sub):
                    typing_only[name] = sub
        for name in _bound(node):
            names[name] = node
    return src, names, typing_only


def _bound(node: ast.stmt) -> list[str]:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name).split(".")[0] for a in node.names]
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    return []


def _lines(src: str, node: ast.stmt) -> str:
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return "\n".join(src.splitlines()[first - 1:node.end_lineno])


def free_names(source: str) -> list[str]:
    """Global names a snippet (a def, a class or an assignment) reads, in order of first use."""
    top = symtable.symtable(textwrap.dedent(source), "<copied>", "exec")
    defined = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported()}
    out: list[str] = []

    def walk(table: symtable.SymbolTable) -> None:
        for s in table.get_symbols():
            if s.is_referenced() and s.is_global() and s.get_name() not in defined and s.get_name() not in out:
                out.append(s.get_name())
        for child in table.get_children():
            walk(child)

    walk(top)
    return out


def _import_line(node: ast.stmt, name: str) -> str:
    """The import statement that binds `name`, narrowed to that one name."""
    for a in node.names:
        if (a.asname or a.name).split(".")[0] != name:
            continue
        alias = f" as {a.asname}" if a.asname else ""
        if isinstance(node, ast.Import):
            return f"import {a.name}{alias}"
        return f"from {'.' * node.level}{node.module or ''} import {a.name}{alias}"
    raise KeyError(name)


class ScriptSource:
    """The pieces of one standalone script; add entry points, then read `text()` and `requirements()`."""

    def __init__(self) -> None:
        self.imports: list[str] = []
        self.typing_imports: list[str] = []
        self.blocks: list[str] = []
        self.bound: dict[str, tuple[str, str]] = {}  # script-level name -> (module, name) it stands for
        self._started: set[tuple[str, str]] = set()

    # ------------------------------------------------------------------------------------ adding --
    def add(self, obj: Any) -> str:
        """Copy a studio function or class (and what it needs); returns the name it has in the script."""
        module = getattr(obj, "__module__", None) or ""
        if not module.startswith(STUDIO):
            raise ScriptSourceError(f"{obj!r} is not studio code; import it instead.")
        self._resolve(module, obj.__name__, f"{module}.{obj.__qualname__}")
        return obj.__name__

    def require_import(self, line: str) -> None:
        if line not in self.imports:
            self.imports.append(line)

    def _bind(self, name: str, key: tuple[str, str], where: str) -> bool:
        """Record that `name` stands for `key`; False when it already does (nothing more to copy)."""
        have = self.bound.get(name)
        if have == key:
            return False
        if have is not None:
            raise ScriptSourceError(f"{where}: the name {name!r} means both {have[0]}.{have[1]} and {key[0]}.{key[1]} "
                                    "in one script; rename one of them.")
        self.bound[name] = key
        return True

    def _resolve(self, module: str, name: str, where: str, as_name: str | None = None) -> None:
        """Make `name`, as module `module` binds it, available in the script (under as_name)."""
        src, names, typing_only = _module_index(module)
        node = names.get(name)
        if node is None and name in typing_only:
            line = _import_line(typing_only[name], name)
            if line not in self.typing_imports:
                self.typing_imports.append(line)
            return
        if node is None:
            if hasattr(builtins, name) or name in ("__file__", "__doc__", "__name__"):
                return
            raise ScriptSourceError(f"{where} uses {name!r}, which {module} does not define at its top level.")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            return self._resolve_import(node, module, name, where, as_name)
        if not self._bind(as_name or name, (module, name), where):
            return
        key = (module, name)
        if key in self._started:
            return
        self._started.add(key)
        text = _lines(src, node)
        self._check_no_studio_imports(text, f"{module}.{name}")
        for dep in free_names(text):
            self._resolve(module, dep, f"{module}.{name}")
        self.blocks.append(text if as_name in (None, name) else f"{text}\n\n\n{as_name} = {name}")

    def _resolve_import(self, node: ast.stmt, module: str, name: str, where: str, as_name: str | None) -> None:
        line = _import_line(node, name)
        target = node.module if isinstance(node, ast.ImportFrom) else None
        if isinstance(node, ast.ImportFrom) and node.level:
            raise ScriptSourceError(f"{module} imports {name!r} relatively; use an absolute studio import.")
        if target and target.startswith(STUDIO):
            original = next(a.name for a in node.names if (a.asname or a.name) == name)
            value = getattr(sys.modules[module], name)
            if isinstance(value, ModuleType):
                raise ScriptSourceError(f"{where} uses the studio module {value.__name__} as {name!r}; import the "
                                        f"names it needs from it directly (from {value.__name__} import ...).")
            self._resolve(target, original, where, as_name=as_name or name)
            return
        if line.startswith(("import studio", "from studio")):
            raise ScriptSourceError(f"{where} uses the studio module {name!r}; import the names it needs directly.")
        if as_name not in (None, name):
            raise ScriptSourceError(f"{where}: {name!r} is imported under another name; import it under its own.")
        if self._bind(name, ("import", line), where) or line not in self.imports:
            self.require_import(line)

    @staticmethod
    def _check_no_studio_imports(text: str, where: str) -> None:
        for node in ast.walk(ast.parse(textwrap.dedent(text))):
            module = (node.module or "") if isinstance(node, ast.ImportFrom) else None
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if (module or "").startswith(STUDIO) or any(n.startswith(STUDIO) for n in names):
                raise ScriptSourceError(f"{where} imports studio code inside itself; import what it needs at the "
                                        "top of its module, so a script can carry it.")

    # ----------------------------------------------------------------------------------- reading --
    def text(self) -> str:
        """Imports, then every copied definition in dependency order."""
        head = sorted(self.imports, key=lambda l: (l.startswith("from "), l))
        typing_only = sorted(set(self.typing_imports) - set(self.imports))
        if typing_only:
            head += ["from typing import TYPE_CHECKING", "", "if TYPE_CHECKING:",
                     *[f"    {line}" for line in typing_only]]
        return "\n".join(head) + "\n\n\n" + "\n\n\n".join(self.blocks) + "\n"

    def requirements(self) -> list[str]:
        """The pip packages the copied code imports (module names mapped to their distributions)."""
        tops = set()
        for text in [*self.imports, *self.blocks]:
            for node in ast.walk(ast.parse(textwrap.dedent(text))):
                if isinstance(node, ast.Import):
                    tops.update(a.name.split(".")[0] for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    tops.add(node.module.split(".")[0])
        tops -= set(sys.stdlib_module_names) | {"__future__"}
        return sorted(PIP_NAMES.get(t, t) for t in tops)
