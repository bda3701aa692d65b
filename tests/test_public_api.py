"""Each module under mc/ says what is public, and no module reaches into another's privates.

Read from the source with :mod:`ast`, without importing anything (``mc.__main__``
runs the command on import). Alembic's scripts under ``mc/store/migrations/``
are loaded by Alembic as files, not imported as modules, and are left out.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

MC_ROOT = Path(__file__).resolve().parents[1] / "mc"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(MC_ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {
    module_name(path): path
    for path in sorted(MC_ROOT.rglob("*.py"))
    if "migrations" not in path.relative_to(MC_ROOT).parts
}


def parse(module: str) -> ast.Module:
    return ast.parse(MODULES[module].read_text(encoding="utf-8"), str(MODULES[module]))


def top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The module's statements, including those under a top-level ``if`` or ``try``."""
    for node in body:
        if isinstance(node, (ast.If, ast.Try)):
            yield from top_level(node.body)
            for handler in getattr(node, "handlers", []):
                yield from top_level(handler.body)
            yield from top_level(node.orelse)
            yield from top_level(getattr(node, "finalbody", []))
        else:
            yield node


def defined_names(tree: ast.Module) -> dict[str, ast.stmt]:
    """Names the module defines itself: functions, classes and assigned names."""
    names: dict[str, ast.stmt] = {}
    for node in top_level(tree.body):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names[node.name] = node
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        names[name.id] = node
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and isinstance(node.target, ast.Name):
            names[node.target.id] = node
    return names


def imported_names(tree: ast.Module) -> set[str]:
    names = set()
    for node in top_level(tree.body):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names.add(alias.asname or alias.name.split(".")[0])
    return names


def declared_all(tree: ast.Module) -> list[str] | None:
    for node in top_level(tree.body):
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        if any(isinstance(target, ast.Name) and target.id == "__all__" for target in targets):
            assert node.value is not None
            return list(ast.literal_eval(node.value))
    return None


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_declares_all(module):
    assert declared_all(parse(module)) is not None, f"{module} has no __all__"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_public_name_a_module_defines_is_in_all(module):
    tree = parse(module)
    public = [name for name in defined_names(tree) if not name.startswith("_")]
    missing = [name for name in public if name not in (declared_all(tree) or [])]
    assert missing == [], f"{module}: public but not in __all__ (or give them a leading _)"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_name_in_all_exists(module):
    tree = parse(module)
    known = set(defined_names(tree)) | imported_names(tree)
    unknown = [name for name in declared_all(tree) or [] if name not in known]
    assert unknown == [], f"{module}: __all__ names what the module does not have"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_public_function_and_class_has_a_docstring(module):
    tree = parse(module)
    defined = defined_names(tree)
    undocumented = [
        name
        for name in declared_all(tree) or []
        if isinstance(defined.get(name), (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        and not ast.get_docstring(defined[name])  # type: ignore[arg-type]
    ]
    assert undocumented == [], f"{module}: public without a docstring"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_a_private_name_of_another(module):
    tree = parse(module)
    mc_modules: set[str] = set()
    reached = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (
            node.level > 0 or (node.module or "").split(".")[0] == "mc"
        ):
            reached += [alias.name for alias in node.names if is_private(alias.name)]
            mc_modules |= {alias.asname or alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "mc":
                    mc_modules.add(alias.asname or alias.name.split(".")[0])
                    reached += [part for part in alias.name.split(".") if is_private(part)]
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in mc_modules
            and is_private(node.attr)
        ):
            reached.append(f"{node.value.id}.{node.attr}")
    assert reached == [], f"{module} reaches private names of other mc modules"


def test_every_module_is_checked():
    # A moved or renamed package would silently drop out of the checks above.
    assert {"mc", "mc.flows", "mc.flows.flow_engine", "mc.store.flow_store"} <= set(MODULES)
    assert not any("migrations" in name for name in MODULES)
