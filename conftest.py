"""Which layer a run is, decided once for ``tests/`` and ``notebooks/``: the unit layer (``-m "not integration"``)
or the full run. The unit layer loads no notebook runner and runs each hypothesis property at most 10 examples;
the full run (``uv run pytest``, CI) loads nbval and runs every property at its full count."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

# A run keeps its bytecode caches (pytest's rewritten test modules, the project's own sources; all git-ignored)
# even where PYTHONDONTWRITEBYTECODE is set, as on this machine's image: without them every run compiles the ~200
# test modules again, ~1.5 s of the unit layer's budget of 10. Servers the tests start inherit the variable.
sys.dont_write_bytecode = False

_SANITIZE = Path(__file__).resolve().parent / "notebooks" / "nbval_sanitize.cfg"


def _unit_layer(markexpr: str | None) -> bool:
    return "not integration" in (markexpr or "")


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """nbval is loaded here rather than by its entry point (``-p no:nbval`` in ``pyproject.toml``): importing it
    costs ~1 s (nbformat, jsonschema and a grammar built at import) and the unit layer runs no notebook."""
    config: Any = pluginmanager.get_plugin("pytestconfig")
    if not _unit_layer(config.known_args_namespace.markexpr):
        pluginmanager.import_plugin("nbval.plugin")


def pytest_configure(config: pytest.Config) -> None:
    """nbval's options for the lessons (strict outputs, this environment's kernel, the sanitizer), unless given on
    the command line; hypothesis's budget (``tests/helpers.Budget``)."""
    from tests.helpers import Budget

    if config.pluginmanager.has_plugin("nbval.plugin"):
        option = config.option
        option.nbval = option.nbval or not option.nbval_lax
        option.nbval_current_env = option.nbval_current_env or not option.nbval_kernel_name
        option.nbval_sanitize_with = option.nbval_sanitize_with or str(_SANITIZE)
    chosen = os.environ.get("LABKIT_HYPOTHESIS", "")
    if chosen not in ("", "quick", "full"):
        raise pytest.UsageError(f"LABKIT_HYPOTHESIS={chosen!r}: expected 'quick' or 'full'")
    Budget.choose(quick=chosen == "quick" or (not chosen and _unit_layer(config.option.markexpr)))


def pytest_collection_finish(session: pytest.Session) -> None:
    """What collection built (the SDKs' modules, the test modules) lives for the whole run: moved out of the cyclic
    collector's sight, the full collections that follow walk only what the tests allocate (~0.5 s of the unit layer)."""
    from labkit.servers import freeze_start_up

    freeze_start_up()
