"""Which extra of ``oauth2-lab`` installs which module: the one home of the names a partial install's errors give.

The core (``pip install oauth2-lab``) is the guard library; everything else comes with an extra
(``pyproject.toml``'s ``[project.optional-dependencies]``, which ``tests/project/test_extras.py`` holds to this
table). A module that needs one calls ``require(...)`` before importing it, and the CLI checks a command's extras
before it starts anything, so the user reads ``pip install 'oauth2-lab[agent]'`` instead of
``No module named 'a2a'``.
"""

from __future__ import annotations

import importlib.util

__all__ = ["COMMAND_EXTRAS", "EXTRA_OF", "INCLUDES", "MissingExtraError", "command_needs", "missing_extra", "require"]

# top-level module -> the smallest extra that installs it
EXTRA_OF: dict[str, str] = {
    "authlib": "provider",
    "rich": "cli",
    "a2a": "agent",
    "mcp": "agent",
    "uvicorn": "agent",
    "jupyterlab": "lab",
    "ipywidgets": "lab",
    "pandas": "lab",
    "matplotlib": "lab",
    "tqdm": "lab",
    "fastapi": "fastapi",
    "limits": "redis",
    "redis": "redis",
    "aiosqlite": "replicas",
    "asyncpg": "replicas",
    "sqlalchemy": "replicas",
    "opentelemetry": "otel",
    "prometheus_client": "metrics",
    "jupyterhub": "classroom",
}
# an extra that installs other extras (``agent = ["oauth2-lab[provider,cli]", ...]``)
INCLUDES: dict[str, tuple[str, ...]] = {"agent": ("provider", "cli"), "lab": ("agent",),
                                        "classroom": ("lab", "replicas")}
# what a CLI command needs beyond the core (the others need nothing more, or what they import says)
COMMAND_EXTRAS: dict[str, tuple[str, ...]] = {
    "serve": ("agent",),
    "demo": ("lab",),
    "lab": ("lab",),
    "cluster": ("agent", "redis", "replicas"),
    "classroom": ("classroom",),
    "mint": ("provider",),
    "probe": ("provider",),
    "audit": ("cli",),
}


class MissingExtraError(ModuleNotFoundError):
    """A module of an extra that is not installed; the message names the extra to install."""


def _modules(extra: str) -> set[str]:
    found = {module for module, owner in EXTRA_OF.items() if owner == extra}
    for included in INCLUDES.get(extra, ()):
        found |= _modules(included)
    return found


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken or half-removed install counts as missing
        return False


def _error(what: str, module: str, extras: tuple[str, ...]) -> MissingExtraError:
    named = extras[0] if len(extras) == 1 else f"{', '.join(extras[:-1])} and {extras[-1]}"
    error = MissingExtraError(f"{what} needs the {named} extra{'s' if len(extras) > 1 else ''} "
                              f"(no module named {module!r}): pip install 'oauth2-lab[{','.join(extras)}]'")
    error.name = module
    return error


def require(what: str, *modules: str) -> None:
    """Check that ``modules`` are installed before ``what`` imports them.

    Raises ``MissingExtraError`` naming the extra that installs the first missing one.
    """
    for module in modules:
        if not _installed(module):
            raise _error(what, module, (EXTRA_OF[module],))


def command_needs(command: str) -> None:
    """Check that what ``labkit COMMAND`` needs is installed; raises ``MissingExtraError`` naming its extras."""
    extras = COMMAND_EXTRAS.get(command, ())
    for module in sorted(set().union(*(_modules(extra) for extra in extras))):
        if not _installed(module):
            raise _error(f"labkit {command}", module, extras)


def missing_extra(error: ModuleNotFoundError, what: str) -> MissingExtraError | None:
    """The extra that installs the module ``error`` names, as a ``MissingExtraError`` about ``what``; None when
    no extra installs it (a bug, not a partial install)."""
    if isinstance(error, MissingExtraError):
        return error
    module = (error.name or "").partition(".")[0]
    extra = EXTRA_OF.get(module)
    return None if extra is None else _error(what, module, (extra,))
