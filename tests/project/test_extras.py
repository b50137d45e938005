"""The extras: ``labkit/_extras.py``'s table (module -> extra) says what ``pyproject.toml`` installs."""

from __future__ import annotations

import re
import tomllib
from collections import defaultdict
from importlib.metadata import packages_distributions

import pytest
from packaging.requirements import Requirement

from labkit import _extras
from labkit._extras import COMMAND_EXTRAS, EXTRA_OF, INCLUDES, MissingExtraError, missing_extra, require
from labkit.cli import _COMMANDS

from ..helpers import ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
EXTRAS = PROJECT["optional-dependencies"]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _own(extra: str) -> tuple[set[str], set[str]]:
    """(distributions, included extras) that ``extra`` lists in pyproject.toml."""
    dists, included = set(), set()
    for line in EXTRAS[extra]:
        requirement = Requirement(line)
        if _canonical(requirement.name) == _canonical(PROJECT["name"]):
            included |= requirement.extras
        else:
            dists.add(_canonical(requirement.name))
    return dists, included


def test_every_extra_installs_the_modules_the_table_gives_it() -> None:
    providers: defaultdict[str, set[str]] = defaultdict(set)  # distribution -> its top-level modules
    for module, dists in packages_distributions().items():
        for dist in dists:
            providers[_canonical(dist)].add(module)
    for extra in set(EXTRAS) - {"all"}:
        dists, included = _own(extra)
        assert included == set(INCLUDES.get(extra, ())), extra
        table = {module for module, owner in EXTRA_OF.items() if owner == extra}
        installed = set().union(*(providers[dist] for dist in dists))
        assert table <= installed, f"[{extra}] installs none of {table - installed}"
        for dist in dists:  # every distribution of the extra is named through one of its modules
            assert providers[dist] & table, f"[{extra}]: {dist} provides none of {sorted(table)}"
    assert set(EXTRA_OF.values()) | set(INCLUDES) <= set(EXTRAS)
    assert _own("all")[1] == set(EXTRAS) - {"all"}


def test_the_core_installs_no_module_of_an_extra() -> None:
    core = {_canonical(Requirement(line).name) for line in PROJECT["dependencies"]}
    for extra in set(EXTRAS) - {"all"}:
        assert not core & _own(extra)[0], extra


def test_each_command_names_extras_that_exist() -> None:
    assert set(COMMAND_EXTRAS) <= set(_COMMANDS)
    assert {extra for extras in COMMAND_EXTRAS.values() for extra in extras} <= set(EXTRAS)


def test_a_missing_module_names_its_extra_and_is_still_an_import_error() -> None:
    found = missing_extra(ModuleNotFoundError("No module named 'a2a.server'", name="a2a.server"), "labkit serve")
    assert isinstance(found, ModuleNotFoundError) and isinstance(found, MissingExtraError)
    assert str(found) == ("labkit serve needs the agent extra (no module named 'a2a'): "
                          "pip install 'oauth2-lab[agent]'")
    assert found.name == "a2a"
    # a module no extra installs is a bug, not a partial install: the caller re-raises it as it is
    assert missing_extra(ModuleNotFoundError("No module named 'nope'", name="nope"), "labkit serve") is None
    assert missing_extra(found, "something else") is found


def test_a_command_needing_several_extras_names_them_all(monkeypatch: pytest.MonkeyPatch) -> None:
    # the dev environment holds every extra: hide one module the way a partial install lacks it
    monkeypatch.setattr(_extras, "_installed", lambda module: module != "redis")
    with pytest.raises(MissingExtraError) as raised:
        _extras.command_needs("cluster")
    assert str(raised.value) == ("labkit cluster needs the agent, redis and replicas extras (no module named "
                                 "'redis'): pip install 'oauth2-lab[agent,redis,replicas]'")
    _extras.command_needs("validate-config")  # needs nothing beside the core
    require("labkit.integrations.starlette")
