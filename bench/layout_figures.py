"""Figures of the code's shape (issue 21), for one git revision or the work tree.

    python bench/layout_figures.py [REV ...]

Per revision: the largest classes and functions (lines), the number of ``Any`` names in
omphalos/ and plugins/, of ``getattr`` calls with a default (guards against attributes that
may not exist), the imports between plugins (a plugin is the module or subpackage of
plugins/KIND/ that setup.py registers as an entry point; an import of another plugin's
module counts) and the support modules that sit in plugin folders (modules of plugins/KIND/
that are no plugin).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator


def sources(rev: str | None) -> Iterator[tuple[str, str]]:
    """(path, text) of every .py file under omphalos/ and plugins/ at ``rev`` (None: the
    work tree, as committed plus changes)."""
    if rev is None:
        names = subprocess.run(["git", "ls-files", "omphalos", "plugins"], check=True,
                               capture_output=True, text=True).stdout.split()
        for name in names:
            if name.endswith(".py"):
                with open(name, encoding="utf-8") as fh:
                    yield name, fh.read()
        return
    names = subprocess.run(["git", "ls-tree", "-r", "--name-only", rev, "omphalos", "plugins"],
                           check=True, capture_output=True, text=True).stdout.split()
    for name in names:
        if name.endswith(".py"):
            yield name, subprocess.run(["git", "show", f"{rev}:{name}"], check=True,
                                       capture_output=True, text=True).stdout


def unit(path: str) -> str | None:
    """``plugins/collectors/summary.py`` -> ``collectors/summary``; None outside plugins."""
    parts = path.split("/")
    if parts[0] != "plugins" or len(parts) < 3:
        return None
    name = parts[2][:-3] if parts[2].endswith(".py") else parts[2]
    return None if name == "__init__" else f"{parts[1]}/{name}"


def imported_units(path: str, tree: ast.Module) -> set[str]:
    """Plugin units ``path`` imports from (relative or omphalos.plugins.* imports)."""
    here = path.split("/")[:-1]  # the package of the module
    out: set[str] = set()
    for node in ast.walk(tree):
        targets: list[list[str]] = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[:len(here) - node.level + 1]
                mod = base + (node.module.split(".") if node.module else [])
                if node.module is None:
                    targets += [[*mod, a.name] for a in node.names]
                else:
                    targets.append(mod)
            elif node.module and node.module.startswith("omphalos.plugins."):
                targets.append(["plugins", *node.module.split(".")[2:]])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("omphalos.plugins."):
                    targets.append(["plugins", *alias.name.split(".")[2:]])
        for target in targets:
            if len(target) >= 3 and target[0] == "plugins":
                out.add(f"{target[1]}/{target[2]}")
    return out


def plugin_units(rev: str | None) -> set[str]:
    """The units setup.py registers (``omphalos.plugins.collectors.summary:X`` ->
    ``collectors/summary``)."""
    if rev is None:
        with open("setup.py", encoding="utf-8") as fh:
            text = fh.read()
    else:
        text = subprocess.run(["git", "show", f"{rev}:setup.py"], check=True,
                              capture_output=True, text=True).stdout
    out = set()
    for line in text.splitlines():
        if "= omphalos.plugins." in line:
            module = line.split("= omphalos.plugins.", 1)[1].split(":", 1)[0].split(".")
            out.add(f"{module[0]}/{module[1]}")
    return out


def _is_plugin(node: ast.ClassDef) -> bool:
    """A class declaring ``name = "..."`` and a ``description``: a registered plugin."""
    assigned = {t.id for stmt in node.body if isinstance(stmt, ast.Assign)
                for t in stmt.targets if isinstance(t, ast.Name)}
    return {"name", "description"} <= assigned


def figures(rev: str | None) -> dict[str, object]:
    classes: list[tuple[int, str]] = []
    functions: list[tuple[int, str]] = []
    any_names = guards = untyped = 0
    cross: list[str] = []
    support: set[str] = set()
    plugins = plugin_units(rev)
    for path, text in sources(rev):
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                classes.append((node.end_lineno - node.lineno + 1, f"{path}:{node.name}"))
                if path.startswith("plugins/") and _is_plugin(node) and not any(
                        isinstance(b, ast.Subscript) for b in node.bases):
                    untyped += 1  # not generic in its config type: self.config is Any
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                functions.append((node.end_lineno - node.lineno + 1, f"{path}:{node.name}"))
            elif isinstance(node, ast.Name) and node.id == "Any":
                any_names += 1
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id == "getattr" and len(node.args) == 3:
                guards += 1
        mine = unit(path)
        if mine is not None and mine not in plugins:
            support.add(mine)
        if mine in plugins:
            cross += [f"{mine} -> {other}" for other in sorted(imported_units(path, tree))
                      if other != mine and other in plugins]
    return {"largest classes": sorted(classes, reverse=True)[:3],
            "largest functions": sorted(functions, reverse=True)[:3],
            "Any": any_names, "getattr guards": guards,
            "plugin classes whose self.config is Any (no Plugin[Config] base)": untyped,
            "imports between plugins": sorted(set(cross)),
            "support modules in plugin folders": sorted(support)}


def main(argv: list[str]) -> None:
    for rev in argv or [None]:
        print(f"== {rev or 'work tree'}")
        for key, value in figures(rev).items():
            if isinstance(value, list):
                print(f"{key}: {len(value)}")
                for item in value:
                    print(f"    {item}")
            else:
                print(f"{key}: {value}")


if __name__ == "__main__":
    main(sys.argv[1:])
