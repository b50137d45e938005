"""The core never reaches up to the protocol SDKs: read from the source, so no import path escapes the check.

Core: ``config``, ``scopes``, ``errors``, ``auth``, ``guard``, ``middleware``, ``audit``. Each core module's
imports, deferred ones inside functions included, are parsed (relative ones resolved, a package's ``__init__``
counted as imported with it) and followed through ``labkit`` by what runs at import time; none may reach
``a2a``, ``mcp``, ``labkit.a2a``, ``labkit.integrations.mcp`` or ``sample_agent``. (Beyond the core, a deferred
import runs only when its function does: ``labkit.state.sql`` opens the a2a-sdk's database stores that way,
only for replicas with a database.)
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

from ..helpers import ROOT

CORE = ("labkit.config", "labkit.scopes", "labkit.errors", "labkit.auth", "labkit.guard", "labkit.middleware",
        "labkit.audit")
FORBIDDEN = ("a2a", "mcp", "mcp_types", "labkit.a2a", "labkit.integrations.mcp", "sample_agent")


def source_of(module: str) -> Path | None:
    """The file of a first-party module, or None for a third-party one."""
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _statements(tree: ast.Module, deferred: bool) -> list[ast.AST]:
    """Every node (``deferred``), or those that run at import time: not inside a function body."""
    if deferred:
        return list(ast.walk(tree))
    found: list[ast.AST] = []
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        found.append(node)
        stack.extend(child for child in ast.iter_child_nodes(node)
                     if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda))
    return found


@functools.cache  # a pure function of the source: each core module's walk reuses the others'
def imports_of(module: str, *, deferred: bool = False) -> frozenset[str]:
    """Every module ``module`` names in an import statement, absolute, with the packages that run on the way."""
    path = source_of(module)
    assert path is not None, module
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in _statements(ast.parse(path.read_text(encoding="utf-8")), deferred):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names if source_of(f"{target}.{alias.name}"))
    parents = {".".join(name.split(".")[:i]) for name in found for i in range(1, name.count(".") + 1)}
    return frozenset(found | parents)


def reached_from(module: str) -> dict[str, str]:
    """Every module reached from ``module`` through first-party imports -> the first-party module that imports it."""
    seen: dict[str, str] = {}
    stack = [module, *(".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1))]
    while stack:
        current = stack.pop()
        if source_of(current) is None:
            continue
        for name in imports_of(current, deferred=current == module):
            if name not in seen:
                seen[name] = current
                stack.append(name)
    return seen


def test_the_walker_sees_a_violation() -> None:
    reached = reached_from("labkit.lab.runner")  # not core: it runs the sample agent, so it must reach mcp
    assert any(name.split(".")[0] == "mcp" for name in reached), "the import walker misses real imports"
    assert "labkit.a2a.webhook" in reached
    assert "a2a.server.tasks" not in reached_from("labkit.state")  # deferred in a function: not at import time
    assert "a2a.server.tasks" in reached_from("labkit.state.sql")  # but counted in the module checked itself


@pytest.mark.parametrize("core", CORE)
def test_no_core_module_imports_a2a_or_mcp(core: str) -> None:
    modules = [core]
    package_dir = ROOT.joinpath(*core.split("."))
    if package_dir.is_dir():
        modules += [f"{core}.{p.stem}" for p in sorted(package_dir.glob("*.py")) if p.stem != "__init__"]
    for module in modules:
        reached = reached_from(module)
        bad = sorted(name for name in reached
                     if any(name == f or name.startswith(f + ".") for f in FORBIDDEN))
        assert not bad, f"{module} reaches {bad[0]} (imported by {reached[bad[0]]})"


def _modules_of(package: str) -> list[str]:
    """``package`` and each of its modules."""
    directory = ROOT.joinpath(*package.split("."))
    return [package, *(f"{package}.{p.stem}" for p in sorted(directory.glob("*.py")) if p.stem != "__init__")]


@pytest.mark.parametrize("module", _modules_of("labkit.widgets"))
def test_widgets_do_not_reach_the_challenges(module: str) -> None:
    # issue 25 item 5: the challenge card lives in challenges/ and draws with widgets; never the other way round
    reached = reached_from(module)
    bad = sorted(name for name in reached if name == "labkit.challenges" or name.startswith("labkit.challenges."))
    assert not bad, f"{module} reaches {bad[0]} (imported by {reached[bad[0]]})"
