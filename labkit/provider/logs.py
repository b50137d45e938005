"""Keeps tokens and secrets out of the provider's logs: authlib logs each token it issues (``Issue token %r to
%r``) and the client object it issued it to, at DEBUG, so every authlib logger gets ``RedactSecrets``.

A record's arguments are replaced by what is safe to say of them: a client by its id, a mapping by its member
names, an exception by its class, a string by its length; numbers and None stay. Nothing here raises.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

__all__ = ["LOGGERS", "RedactSecrets", "install"]

# the member names said of a mapping: RFC 6749 §5.1/§5.2, RFC 7591 §3.2.1, RFC 7662 §2.2, RFC 8693 §2.2.1
_MEMBERS = frozenset({
    "access_token", "token_type", "expires_in", "refresh_token", "scope", "id_token", "issued_token_type", "error",
    "error_description", "client_id", "client_secret", "client_id_issued_at", "client_secret_expires_at",
    "redirect_uris", "grant_types", "token_endpoint_auth_method", "client_name", "jwks", "active", "sub", "aud",
    "iss", "exp", "iat", "jti", "cnf", "act", "username",
})
LOGGERS = ("authlib",)  # the libraries whose records carry token and client objects (and every logger below them)


class RedactSecrets(logging.Filter):
    """Rewrites a record's arguments (and a message that is not a string) so no token or secret is formatted."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not isinstance(record.msg, str):
            record.msg = _safe(record.msg)
        if isinstance(record.args, Mapping):  # "%(name)s" reads members, "%r" the whole mapping: both are safe
            record.args = _SafeMapping(record.args)
        elif record.args:
            record.args = tuple(_safe(value) for value in record.args)
        if record.exc_info or record.exc_text:  # an exception's message may quote a value: its class only
            kind = record.exc_info[0] if record.exc_info else None
            record.msg = f"{record.msg} ({kind.__name__ if kind else 'exception'})"
            record.exc_info, record.exc_text = None, None
        return True


_FILTER = RedactSecrets()


def install() -> None:
    """Add the filter to every logger under ``LOGGERS`` that exists now (a filter on a parent logger does not see
    its children's records); idempotent. Called when the provider's app is built, after authlib is imported."""
    manager = logging.Logger.manager
    names = [name for name in list(manager.loggerDict) if any(
        name == root or name.startswith(root + ".") for root in LOGGERS)]
    for name in {*LOGGERS, *names}:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def _safe(value: Any) -> Any:
    # never log, store or echo a token or secret: only the shape of a value is said
    if value is None or isinstance(value, bool | int | float):
        return value
    client_id = getattr(value, "client_id", None)
    if isinstance(client_id, str):
        return _Said(f"<{type(value).__name__} {client_id!r}>")
    if isinstance(value, Mapping):  # the standard member names only: a key may be anything, even a token
        names = sorted(k for k in value if isinstance(k, str) and k in _MEMBERS)
        return _Said(f"<{type(value).__name__} with {', '.join(names)}>")
    if isinstance(value, BaseException):
        return _Said(f"<{type(value).__name__}>")
    if isinstance(value, str | bytes):
        return _Said(f"<{type(value).__name__} of {len(value)}>")
    return _Said(f"<{type(value).__name__}>")


class _SafeMapping(dict[str, Any]):
    """The standard members of a mapping, each made safe; as a whole it formats as its shape."""

    def __init__(self, source: Mapping[Any, Any]) -> None:
        super().__init__({k: _safe(v) for k, v in source.items() if isinstance(k, str) and k in _MEMBERS})
        self.said = _safe(source)

    def __repr__(self) -> str:
        return str(self.said)

    __str__ = __repr__


class _Said(str):
    """A description that formats the same with ``%s`` and ``%r``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return str(self)
