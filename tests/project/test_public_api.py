"""The public API is deliberate (httpx's habit): the faces DESIGN.md names, each with a committed ``__all__``.

A face's ``__all__`` is held to the list below, sorted, and every name in it imports; the face's ``__init__`` binds
no public name from labkit that it does not export. Everything else is labkit's inside: a module may keep an
``__all__`` (what it offers its package), but that is not API and is not listed here. Adding a name to a face is
a decision: make it here and in the face. And no module imports another package's private module or name.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

from .test_layers import source_of

FACES: dict[str, list[str]] = {
    "labkit": ["AuthError", "ConfigError", "OAuth2Config", "Reason", "ScopeHierarchy", "SecurityConfig", "load_config",
               "validate_security_config"],
    "labkit.config": ["ALGORITHMS", "AuditConfig", "CapabilitySpec", "ConfigError", "McpServerSpec", "MiddlewareSpec",
                      "OAuth2Config", "PluginSpec", "PushConfig", "SecurityConfig", "StateConfig", "TenantConfig",
                      "load_config", "validate_security_config"],
    "labkit.auth": ["HybridValidator", "IntrospectionValidator", "JWKSClient", "JWTValidator", "KeySet", "Principal",
                    "Validator", "build_validator", "fingerprint", "verify_signature"],
    # what an app or an integration builds a guard from, and the types its callbacks see
    "labkit.guard": ["Admit", "Capability", "Decision", "Effect", "Endpoint", "EndpointPolicy", "Gate", "GuardContext",
                     "GuardUser", "MethodRule", "OAuth2Guard", "PluginScopes", "Requirement", "RpcCall",
                     "bearer_token", "gate_for", "principal_key"],
    "labkit.integrations": ["closing", "gate_for"],
    "labkit.integrations.fastapi": ["BearerGuard", "UserFactory", "client_credentials_scheme"],
    "labkit.integrations.mcp": ["DPoPMiddleware", "GateTokenVerifier", "access_token"],
    "labkit.integrations.metadata": ["METADATA_ROUTE", "WELL_KNOWN", "metadata_document", "metadata_routes",
                                     "metadata_url", "protected_resource_metadata"],
    "labkit.integrations.starlette": ["BearerBackend", "SCOPE_KEY", "TokenRefused", "UserFactory", "requires"],
    "labkit.state": ["Limiter", "MemoryLimiter", "MemoryQuota", "MemoryReplayCache", "MemoryResultStore", "Quota",
                     "ReplayCache", "ResultStore", "SharedState", "SharedVerdicts", "SqlStores",
                     "StateUnavailableError", "StorageError", "open_sql_stores"],
    "labkit.provider": ["CimdPolicy", "Client", "ENDPOINTS", "Fault", "Faults", "LAB_SCOPES", "MockProvider",
                        "PERSONAS", "PERSONA_CLIENTS", "TrustPolicy", "USERS", "User", "persona_client",
                        "persona_issuer", "persona_oauth2"],
    "labkit.lab": ["AuthChallenge", "CallResult", "Lab", "LabClock", "TokenRequestError", "audit_table", "call_table",
                   "inspect_token", "lab_jwt", "mask", "validator", "verdict"],
    "labkit.widgets": ["AuditViewer", "AuditViewerState", "ConfigBuilder", "ConfigBuilderState", "EndpointTester",
                       "EndpointTesterState", "ScopeExplorer", "ScopeExplorerState", "TokenMinter",
                       "TokenMinterState", "html_text", "show_with_fallback"],
    "labkit.challenges": ["Attempt", "CHALLENGES", "Challenge", "CheckResult", "Mark", "Prediction", "Progress",
                          "ProgressFileError", "Question", "Record", "Reveal", "default_progress_path", "lesson_of",
                          "predict", "progress_table", "start", "status"],
}
PACKAGES = ("labkit", "sample_agent")


def test_every_integration_module_is_a_face() -> None:
    # DESIGN.md: labkit.integrations.* are faces; a new integration states its API here
    package = importlib.import_module("labkit.integrations")
    found = {m.name for m in pkgutil.iter_modules(package.__path__, "labkit.integrations.") if "._" not in m.name}
    assert found <= set(FACES), sorted(found - set(FACES))


@pytest.mark.parametrize("face", FACES)
def test_a_face_exports_what_is_listed(face: str) -> None:
    module = importlib.import_module(face)
    expected = FACES[face]
    assert expected == sorted(expected)
    assert sorted(module.__all__) == expected, f"{face}.__all__ changed: update FACES if that is the decision"
    missing = [name for name in module.__all__ if getattr(module, name, None) is None]
    assert not missing, f"{face}.__all__ names what does not import: {missing}"
    exec(f"from {face} import {', '.join(module.__all__)}", {})  # noqa: S102 - the import statement users write


def bound_names(tree: ast.Module, imports: bool = True) -> set[str]:
    """Public names a module binds at top level: its definitions, and (``imports``) what a package's ``__init__``
    re-exports from its own modules (``from .x import y``, in ``TYPE_CHECKING`` blocks too)."""
    names: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                names.update(n.id for target in node.targets for n in ast.walk(target) if isinstance(n, ast.Name))
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
            elif imports and isinstance(node, ast.ImportFrom) and node.level == 1:
                names.update(alias.asname or alias.name for alias in node.names)
            elif isinstance(node, ast.If):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                for part in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                    visit(part)

    visit(tree.body)
    return {name for name in names if not name.startswith("_")}


def test_the_binder_sees_definitions_and_first_party_imports() -> None:
    tree = ast.parse("import os\nfrom x import y\nfrom .a import b, c as d\nfrom ..e import f\nA = 1\n"
                     "def g(): pass\nclass C: pass\nif T:\n    from .h import i\n_j = 2\n")
    assert bound_names(tree) == {"b", "d", "A", "g", "C", "i"}
    assert bound_names(tree, imports=False) == {"A", "g", "C"}


@pytest.mark.parametrize("face", FACES)
def test_a_face_binds_nothing_it_does_not_export(face: str) -> None:
    module = importlib.import_module(face)
    assert module.__file__ is not None
    # a package's __init__ re-exports: what it imports is on its face; a module's imports are its own business
    package = hasattr(module, "__path__")
    submodules = {m.name for m in pkgutil.iter_modules(getattr(module, "__path__", []))}
    bound = bound_names(ast.parse(Path(module.__file__).read_text(encoding="utf-8")), imports=package) - submodules
    unlisted = sorted(bound - set(module.__all__))
    assert not unlisted, f"{face} binds names it does not export (export them or underscore them): {unlisted}"


def _modules() -> list[str]:
    """Every module of the packages (``__main__`` runs the CLI when imported: it is left out)."""
    found: list[str] = []
    for package in PACKAGES:
        root = importlib.import_module(package)
        found.append(package)
        found += [m.name for m in pkgutil.walk_packages(root.__path__, f"{package}.") if m.name.split(".")[-1] != "__main__"]
    return found


@pytest.mark.parametrize("name", _modules())
def test_an_all_names_what_exists(name: str) -> None:
    # inside modules keep their __all__ as a statement to their package, not API: it must still be true
    module = importlib.import_module(name)
    exported = list(getattr(module, "__all__", ()))
    assert len(set(exported)) == len(exported), f"{name}.__all__ lists a name twice"
    missing = [member for member in exported if not hasattr(module, member)]
    assert not missing, f"{name}.__all__ names what does not exist: {missing}"


def test_stable_interfaces() -> None:
    from labkit import ScopeHierarchy, SecurityConfig, load_config, validate_security_config  # noqa: F401
    from labkit.auth import Principal, build_validator  # noqa: F401
    from labkit.auth.jwt import verify_signature  # noqa: F401
    from labkit.errors import AuthError, ConfigError, Reason  # noqa: F401
    from labkit.lab import Lab  # noqa: F401


# --- no module imports another package's private module or name -------------------------------------------------

def private_owner(dotted: str) -> str | None:
    """The package a private module or name belongs to (None: nothing private on the path).

    ``labkit.auth._http.X`` -> ``labkit.auth``; ``labkit.audit.event._TEXT`` -> ``labkit.audit`` (a module's private
    name is its package's); ``labkit._json`` -> ``labkit``.
    """
    parts = dotted.split(".")
    for index, part in enumerate(parts):
        if part.startswith("_") and not (part.startswith("__") and part.endswith("__")):
            owner = ".".join(parts[:index])
            source = source_of(owner)
            return owner if source is None or source.name == "__init__.py" else owner.rpartition(".")[0]
    return None


def private_imports(module: str, source: str) -> list[str]:
    """What ``module`` imports from another package's private parts, as ``target (line N)``."""
    path = source_of(module)
    package = module.split(".") if path is None or path.name == "__init__.py" else module.split(".")[:-1]
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else [])) \
                if node.level else node.module or ""
            targets = [f"{base}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            continue
        for target in targets:
            owner = private_owner(target) if target.split(".")[0] in PACKAGES else None
            if owner is not None and module != owner and not module.startswith(owner + "."):
                found.append(f"{target} (line {node.lineno})")
    return found


def test_the_private_rule_sees_a_violation() -> None:
    assert private_imports("labkit.delegation", "from .auth._jws import parse\nfrom .guard.gate import _x\n") == [
        "labkit.auth._jws.parse (line 1)", "labkit.guard.gate._x (line 2)"]
    assert private_imports("sample_agent.app", "import labkit._json\nfrom labkit import _yaml\n") == [
        "labkit._json (line 1)", "labkit._yaml (line 2)"]
    # within the owner's package: fine
    assert private_imports("labkit.audit.files", "from .event import _TEXT_FIELDS\nfrom .._json import dumps\n") == []
    assert private_imports("labkit.integrations.fastapi", "from ._common import closing\n") == []


@pytest.mark.parametrize("name", _modules())
def test_no_module_imports_another_packages_private_parts(name: str) -> None:
    path = source_of(name)
    assert path is not None
    found = private_imports(name, path.read_text(encoding="utf-8"))
    assert not found, f"{name} imports another package's private parts: {found}"
