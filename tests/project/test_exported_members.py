"""The public API is deliberate (httpx's habit): in every module of ``labkit`` and ``sample_agent`` with an ``__all__``,
every public name the module defines (not imports) is in ``__all__``, and every name in ``__all__`` exists.

A helper that is not part of the API gets a leading underscore; a name that is gets listed.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

PACKAGES = ("labkit", "sample_agent")


def _modules() -> list[str]:
    """Every module of the packages, by source (``__main__`` runs the CLI when imported: it is left out)."""
    found: list[str] = []
    for package in PACKAGES:
        root = importlib.import_module(package)
        found.append(package)
        found += [m.name for m in pkgutil.walk_packages(root.__path__, f"{package}.") if m.name.split(".")[-1] != "__main__"]
    return found


def defined_names(tree: ast.Module) -> set[str]:
    """Names the module binds itself at top level (defs, classes, assignments, in ``if``/``try`` too), not imports."""
    names: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                names.update(n.id for target in node.targets for n in ast.walk(target) if isinstance(n, ast.Name))
            elif isinstance(node, ast.AnnAssign | ast.AugAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
            elif isinstance(node, ast.If):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                for part in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                    visit(part)
            elif type(node).__name__ == "TypeAlias":  # ``type X = ...`` (Python 3.12+)
                names.add(node.name.id)  # type: ignore[attr-defined]

    visit(tree.body)
    return names


MODULES = _modules()


def test_every_module_has_an_all() -> None:
    # an ``__all__`` in every module: a new module states its API from the start
    without = [name for name in MODULES if not hasattr(importlib.import_module(name), "__all__")]
    assert not without, f"no __all__ in {without}"


@pytest.mark.parametrize("name", MODULES)
def test_all_matches_the_public_names(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(getattr(module, "__all__", ()))
    assert len(set(exported)) == len(exported), f"{name}.__all__ lists a name twice"
    missing = [member for member in exported if not hasattr(module, member)]
    assert not missing, f"{name}.__all__ names what does not exist: {missing}"
    assert module.__file__ is not None
    public = {n for n in defined_names(ast.parse(Path(module.__file__).read_text(encoding="utf-8"))) if n[0] != "_"}
    unlisted = sorted(public - set(exported))
    assert not unlisted, f"{name} defines public names not in __all__ (list them or underscore them): {unlisted}"


def test_the_walker_sees_definitions_not_imports() -> None:
    tree = ast.parse("import os\nfrom x import y\nA = 1\nB: int = 2\ndef f(): pass\nclass C: pass\n"
                     "if True:\n    D = 3\ntry:\n    E = 4\nexcept ImportError:\n    F = 5\n")
    assert defined_names(tree) == {"A", "B", "f", "C", "D", "E", "F"}


def test_stable_interfaces() -> None:
    from labkit import ScopeHierarchy, SecurityConfig, load_config, validate_security_config  # noqa: F401
    from labkit.auth import Principal, build_validator  # noqa: F401
    from labkit.auth.jwt import verify_signature  # noqa: F401
    from labkit.errors import AuthError, ConfigError, Reason  # noqa: F401
    from labkit.lab import Lab  # noqa: F401

    assert set(importlib.import_module("labkit").__all__) >= {
        "load_config", "validate_security_config", "SecurityConfig", "ScopeHierarchy"}
