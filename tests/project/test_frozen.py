"""Frozen means frozen (issue 25 item 3): no module of ``labkit`` or ``sample_agent`` builds an instance around its
constructor (``object.__new__``) or writes into an object's ``__dict__`` (a memo kept in another object, a frozen
instance filled in place). Read from the source, so a new place is caught where it is written.
"""

from __future__ import annotations

import ast

from ..helpers import ROOT

# Modules still waiting for that rule: none (the claim checker and the gate landed: issue 25).
PENDING: set[str] = set()


def _is(node: ast.AST, owner: str, attribute: str) -> bool:
    """``node`` is ``owner.attribute`` (``owner`` a plain name)."""
    return (isinstance(node, ast.Attribute) and node.attr == attribute and isinstance(node.value, ast.Name)
            and node.value.id == owner)


def writes_around_constructors(source: str) -> list[int]:
    """Line numbers of ``object.__new__(...)``, ``object.__setattr__(x, "__dict__", ...)``, ``x.__dict__[k] = ...``
    and ``x.__dict__.update/setdefault(...)``."""
    found: list[int] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            if _is(func, "object", "__new__"):
                found.append(node.lineno)
            elif (_is(func, "object", "__setattr__") and len(node.args) > 1
                  and isinstance(node.args[1], ast.Constant) and node.args[1].value == "__dict__"):
                found.append(node.lineno)
            elif (isinstance(func, ast.Attribute) and func.attr in ("update", "setdefault", "__setitem__")
                  and isinstance(func.value, ast.Attribute) and func.value.attr == "__dict__"):
                found.append(node.lineno)
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for part in ast.walk(target):
                    if (isinstance(part, ast.Subscript) and isinstance(part.value, ast.Attribute)
                            and part.value.attr == "__dict__"):
                        found.append(node.lineno)
    return sorted(set(found))


def test_the_scan_sees_each_form() -> None:
    source = ("a = object.__new__(A)\nobject.__setattr__(a, '__dict__', {})\np.__dict__['k'] = 1\n"
              "p.__dict__.update(k=1)\nx = y.__dict__[k] = 2\nobject.__setattr__(self, 'name', 1)\n"
              "v = p.__dict__.get('k')\n")
    assert writes_around_constructors(source) == [1, 2, 3, 4, 5]


def test_no_module_writes_around_a_constructor() -> None:
    offenders = []
    for package in ("labkit", "sample_agent"):
        for path in sorted((ROOT / package).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            if name in PENDING:
                continue
            offenders += [f"{name}:{line}" for line in writes_around_constructors(path.read_text(encoding="utf-8"))]
    assert not offenders, f"build the object with its constructor; keep memos out of other objects: {offenders}"

