"""RFC 6750: bearer credentials in ``Authorization``, the challenge, and the one Reason -> HTTP table.

Every component that answers a refused request (the ASGI guard, the FastAPI dependency, the Starlette
backend, the MCP token verifier) reads ``OUTCOMES``; a test walks every ``Reason`` through it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..auth.dpop import DPOP_ALGORITHMS
from ..errors import Reason

__all__ = [
    "BEARER_GRAMMAR", "DPOP_GRAMMAR", "MAX_AUTHORIZATION", "OUTCOMES", "Outcome", "bearer_token", "challenge",
    "credentials", "outcome"
]

# RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="; the scheme is
# case-insensitive (RFC 9110 §11.1). One space, as the grammar says; we accept a run of spaces and trailing ones.
# RFC 9449 §7.1: the DPoP scheme carries the same token68 grammar. The grammar as regular expressions (the
# reference ``credentials`` is tested against); ``credentials`` checks the same with one byte pass.
BEARER_GRAMMAR = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr] +([A-Za-z0-9\-._~+/]+=*) *")
DPOP_GRAMMAR = re.compile(r"[Dd][Pp][Oo][Pp] +([A-Za-z0-9\-._~+/]+=*) *")
_B64TOKEN = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"
MAX_AUTHORIZATION = 16_384  # bytes; longer headers are not tokens this lab issues


@dataclass(frozen=True)
class Outcome:
    """How a refusal is answered: HTTP status, RFC 6750 ``error`` code (None: none), whether ``scope=`` is sent."""

    status: int
    error: str | None
    scope: bool = False
    challenge: bool = True  # send WWW-Authenticate at all
    dpop: bool = False  # always answered with a DPoP challenge (RFC 9449 §7.1)
    retry_after: int | None = None  # seconds for ``Retry-After`` when the refusal names none of its own


_INVALID = Outcome(401, "invalid_token")
OUTCOMES: dict[Reason, Outcome] = {reason: _INVALID for reason in Reason}
OUTCOMES.update({
    # RFC 6750 §3.1: a request without credentials gets a bare challenge, no error code.
    Reason.MISSING_TOKEN: Outcome(401, None),
    # RFC 6750 §3.1: insufficient_scope is 403 and MAY name the scope needed.
    Reason.INSUFFICIENT_SCOPE: Outcome(403, "insufficient_scope", scope=True),
    # RFC 6750 §3.1: invalid_request is 400 (a malformed request, not a bad token).
    Reason.INVALID_REQUEST: Outcome(400, "invalid_request"),
    Reason.SIZE: Outcome(413, None, challenge=False),
    Reason.RATE_LIMITED: Outcome(429, None, challenge=False),
    # RFC 9110 §15.6.4: the state a decision needs (rate limit, replay cache) cannot answer: 503 with Retry-After,
    # not a limit hit and not a bad token (the client's credentials are not in question)
    Reason.STATE_UNAVAILABLE: Outcome(503, None, challenge=False, retry_after=5),
    # A malformed scope claim is a malformed token: 401 invalid_token, never 403.
    Reason.SCOPE: _INVALID,
    # RFC 9449 §7.1: a bad proof is invalid_dpop_proof; §8: a missing or stale nonce is use_dpop_nonce.
    Reason.DPOP_PROOF: Outcome(401, "invalid_dpop_proof", dpop=True),
    Reason.DPOP_NONCE: Outcome(401, "use_dpop_nonce", dpop=True),
    # RFC 9449 §7.2: a DPoP-bound token presented as Bearer is an invalid token, answered with a DPoP challenge.
    Reason.DPOP_REQUIRED: Outcome(401, "invalid_token", dpop=True),
    # RFC 6750 §3.1 / RFC 9110 §15.5.4: a valid token whose act chain a plugin's delegation rule refuses is 403, as
    # insufficient_scope is; no challenge: no new token or scope changes who acts (an MCP client re-authorizes on a
    # 401 or a 403 insufficient_scope, and would loop)
    Reason.DELEGATION: Outcome(403, None, challenge=False),
})


def outcome(reason: Reason) -> Outcome:
    """The answer for ``reason``."""
    return OUTCOMES[reason]


def credentials(authorization: Iterable[bytes]) -> tuple[str, str] | None:
    """``(scheme, token)`` of exactly one ``Authorization: Bearer|DPoP <token>`` header value, or None.

    Never from the query string or the body (RFC 6750 §2.2/§2.3 are not offered). Several Authorization
    headers, non-ASCII bytes, another scheme or a token outside the b64token grammar: None.
    """
    values = authorization if isinstance(authorization, list) else list(authorization)
    if len(values) != 1 or len(values[0]) > MAX_AUTHORIZATION:
        return None
    value = values[0]
    scheme = value[:7].lower()
    if scheme == b"bearer ":
        name = "bearer"
    elif scheme[:5] == b"dpop ":
        name = "dpop"
    else:
        return None
    token = value[len(name):].strip(b" ")  # the run of spaces after the scheme, and trailing ones
    body = token.rstrip(b"=")
    # b64token: at least one character of the alphabet, then only "=" (deleting the alphabet leaves nothing)
    if not body or body.translate(None, _B64TOKEN):
        return None
    return name, token.decode("ascii")


def bearer_token(authorization: Iterable[bytes]) -> str | None:
    """The token of exactly one ``Authorization: Bearer`` header value, or None (see ``credentials``)."""
    found = credentials(authorization)
    return found[1] if found is not None and found[0] == "bearer" else None


def challenge(
    reason: Reason, *, realm: str | None = None, scopes: Iterable[str] = (), resource_metadata: str | None = None,
    dpop_algs: Iterable[str] | None = None,
) -> str | None:
    """The ``WWW-Authenticate`` value for a refusal, or None when the outcome sends none.

    ``realm``: RFC 6750 §3's optional protection space (None: no ``realm`` attribute; a bare refusal is then
    ``Bearer`` alone). ``dpop_algs``: answer with the ``DPoP`` scheme and these ``algs`` (RFC 9449 §7.1), as DPoP
    reasons always do.
    """
    answer = OUTCOMES[reason]
    if not answer.challenge:
        return None
    if answer.dpop and dpop_algs is None:
        dpop_algs = DPOP_ALGORITHMS
    scheme = "Bearer" if dpop_algs is None else "DPoP"
    # RFC 6750 §3: realm MAY be sent; RFC 9110 §11.1: a challenge is the scheme, then its parameters, comma-separated
    parts = [f'realm="{_quoted(realm)}"'] if realm is not None else []
    if answer.error:
        parts.append(f'error="{answer.error}"')
    if answer.scope:
        parts.append(f'scope="{_quoted(" ".join(scopes) or "*")}"')
    if resource_metadata:
        parts.append(f'resource_metadata="{_quoted(resource_metadata)}"')  # RFC 9728 §5.1
    if dpop_algs is not None:
        parts.append(f'algs="{_quoted(" ".join(dpop_algs))}"')  # RFC 9449 §7.1
    return f"{scheme} {', '.join(parts)}" if parts else scheme


def _quoted(value: str) -> str:
    # RFC 9110 §5.6.4 quoted-string: keep to visible ASCII without '"' and '\'.
    return "".join(c for c in value if " " <= c <= "~" and c not in '"\\')
