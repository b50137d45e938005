"""Errors of the lab: what went wrong, in a form code can act on.

::

    LabkitError
    ├── ConfigError        a configuration is invalid: a list of (dotted path, message) pairs
    └── AuthError          a token was refused: a closed ``Reason`` (audit log) and a private detail

Clients never see more than "Unauthorized" / "Forbidden": ``AuthError.reason`` and ``detail`` go to
the audit log only. ``str(AuthError)`` is the generic client message on purpose.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

__all__ = ["AuthError", "ConfigError", "ConfigFileError", "LabkitError", "Reason"]


class Reason(StrEnum):
    """Why a request was denied; the closed vocabulary of the audit log."""

    MISSING_TOKEN = "missing_token"  # noqa: S105 - a reason name, not a secret
    MALFORMED = "malformed"
    SIZE = "size"
    TOKEN_TYPE = "token_type"  # noqa: S105 - a reason name, not a secret
    HEADER = "header"
    ALGORITHM = "algorithm"
    KEY = "key"
    JWKS_UNAVAILABLE = "jwks_unavailable"
    SIGNATURE = "signature"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    ISSUED_IN_FUTURE = "issued_in_future"
    ISSUER = "issuer"
    AUDIENCE = "audience"
    CLAIMS = "claims"
    SCOPE = "scope"
    INSUFFICIENT_SCOPE = "insufficient_scope"
    INACTIVE = "inactive"
    INTROSPECTION_ERROR = "introspection_error"
    TIMEOUT = "timeout"
    TENANT = "tenant"
    RATE_LIMITED = "rate_limited"
    INVALID_REQUEST = "invalid_request"  # the request itself is malformed (body, JSON-RPC envelope)
    DPOP_PROOF = "dpop_proof"  # RFC 9449 §7.1 invalid_dpop_proof: the proof is missing a check or unbound
    DPOP_NONCE = "dpop_nonce"  # RFC 9449 §8: the proof lacks the server's current nonce (use_dpop_nonce)
    DPOP_REQUIRED = "dpop_required"  # RFC 9449 §7.2: a DPoP-bound (or DPoP-only) token presented as Bearer
    DELEGATION = "delegation"  # RFC 8693 §4.1: the act chain breaks the plugin's delegation rule
    STATE_UNAVAILABLE = "state_unavailable"  # the shared state (limiter, replay cache) cannot answer: 503, never admit

    @property
    def reason_class(self) -> str:
        """The coarse class of this reason (the vocabulary of the shared test corpus)."""
        return _CLASSES.get(self, self.value)


_CLASSES = {
    Reason.JWKS_UNAVAILABLE: "key",
    Reason.INSUFFICIENT_SCOPE: "scope",
    Reason.DPOP_NONCE: "dpop_proof",
    Reason.DPOP_REQUIRED: "dpop_proof",
}


class LabkitError(Exception):
    """Base of every error labkit raises on purpose."""


class AuthError(LabkitError):
    """A token or request was refused; ``reason`` is for the audit log, never for the client.

    ``detail`` is a precise, token-free explanation (e.g. ``"exp 1700000000 is before now"``).
    """

    def __init__(self, reason: Reason, detail: str = "", *, attempts: tuple[tuple[str, Reason], ...] = (),
                 scopes: tuple[str, ...] = ()) -> None:
        super().__init__("Unauthorized")
        self.reason = reason
        self.detail = detail
        self.attempts = attempts  # (strategy, reason) of each attempt, for the hybrid strategy
        self.scopes = scopes  # for insufficient_scope: the scopes that were needed

    def __repr__(self) -> str:
        return f"AuthError({self.reason.value!r}, {self.detail!r})"


class ConfigError(LabkitError):
    """A configuration is invalid; ``errors`` lists every problem as (dotted path, message)."""

    def __init__(self, errors: Iterable[tuple[str, str]]) -> None:
        self.errors: list[tuple[str, str]] = list(errors)
        super().__init__(self._render())

    def _render(self) -> str:
        n = len(self.errors)
        lines = [f"{n} configuration error{'s' if n != 1 else ''}:"]
        lines += [f"  {path or '<root>'}: {message}" for path, message in self.errors]
        return "\n".join(lines)

    @property
    def paths(self) -> list[str]:
        """The dotted config paths of every error, in order."""
        return [path for path, _ in self.errors]


class ConfigFileError(ConfigError):
    """A configuration file cannot be read at all (missing, not a regular file, unreadable): an I/O problem, not an
    invalid configuration (the CLI exits 2 for it, 1 for an invalid one)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__([(path, problem)])
        self.path, self.problem = path, problem
