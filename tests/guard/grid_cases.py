"""The attack grid's cases and their expected outcomes, written from the rules (not from a copy of the code).

Tenants (root: RSA key, ``acme``: EC, ``globex``: Ed25519 and a hierarchy with no ``admin`` wildcard) x token kinds
x route (A2A ``/``, MCP ``/mcp``) x JSON-RPC body x scheme (Bearer, DPoP with a proof that is not one). ``expected``
answers with the status, the ``WWW-Authenticate`` scheme, ``error`` and ``scope`` parameters, and the audit reason:

- no token: 401, a bare Bearer challenge (RFC 6750 §3.1), ``missing_token``;
- a token its tenant refuses: 401 ``invalid_token`` with the reason (expired; signature under the root's kid with the
  attacker's key; no such key in a tenant's JWKS), in the scheme the request used (RFC 9449 §7.1);
- a DPoP-bound token as Bearer: 401 with the DPoP challenge, ``dpop_required`` (RFC 9449 §7.2); any token with the
  DPoP scheme and a proof that is not one: 401 ``invalid_dpop_proof``;
- a valid Bearer token: a body that is not one JSON-RPC request: on A2A a JSON-RPC error in-band (200, as the
  a2a-sdk answers), on MCP 400 ``invalid_request``; a ``message/send`` naming another tenant, 400
  ``invalid_request``; else 200 when its scopes, after the tenant's hierarchy, cover the method's, else 403
  ``insufficient_scope`` naming them.
"""

from __future__ import annotations

from typing import Any

from ..helpers import ISSUER, NOW, Keys, mint

BODIES = [
    b'{"jsonrpc":"2.0","id":1,"method":"capabilities"}',
    b'{"jsonrpc":"2.0","id":2,"method":"tasks/get","params":{"id":"t"}}',
    b'{"jsonrpc":"2.0","id":3,"method":"tasks/cancel","params":{"id":"t"}}',
    b'{"jsonrpc":"2.0","id":4,"method":"message/send","params":{"configuration":{"pushNotificationConfig":{"url":"x"}}}}',
    b'{"jsonrpc":"2.0","id":5,"method":"message/send","params":{"tenant":"globex"}}',
    b'{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"read_file","arguments":{}}}',
    b'{"jsonrpc":"2.0","id":7,"method":"execute","params":{"capability":"write_operation"}}',
    b'{"jsonrpc":"2.0","id":8,"method":"capabilities","id":9}',  # duplicate member: refused
    b'[{"jsonrpc":"2.0","id":1,"method":"capabilities"}]', b'{"jsonrpc":"2.0","id":1.5e400,"method":"x"}', b"",
    b"\xff\xfe{}",
]
MALFORMED = range(7, len(BODIES))  # not one JSON-RPC request: a JSON-RPC error once the token is valid
ROUTES = {"a2a": "/", "mcp": "/mcp", "card": "/.well-known/agent-card.json", "unknown": "/nowhere",
          "dotted": "/%2e%2e/mcp"}
KINDS = ["read", "read", "admin", "write", "bound", "expired", "forged", "other tenant", "delegated", None]

# The scopes each (route, body) needs (the agent's method and tool tables); MCP's other methods need none.
NEEDS: dict[tuple[str, int], tuple[str, ...]] = {
    ("a2a", 0): (), ("a2a", 1): ("api:read",), ("a2a", 2): ("api:write",), ("a2a", 3): ("api:read", "push:write"),
    ("a2a", 4): ("api:read",), ("a2a", 5): (), ("a2a", 6): ("api:write",),
    **{("mcp", body): () for body in (0, 1, 2, 3, 4, 6)}, ("mcp", 5): ("files:read",),
}
_EVERYTHING = None  # the admin wildcard
_WRITE = ("api:write", "push:write", "files:read")
# What each valid kind amounts to after its tenant's hierarchy (admin -> *, api:write -> api:read, push:write ->
# push:read at the root and acme; globex implies nothing). "other tenant" at the root is acme's token: acme judges it.
EFFECTIVE: dict[str, dict[str, tuple[str, ...] | None]] = {
    "root": {"read": ("api:read",), "admin": _EVERYTHING, "write": (*_WRITE, "api:read", "push:read"),
             "delegated": _EVERYTHING, "other tenant": ("api:read",)},
    "acme": {"read": ("api:read",), "admin": _EVERYTHING, "write": (*_WRITE, "api:read", "push:read"),
             "delegated": _EVERYTHING},
    "globex": {"read": ("api:read",), "admin": ("admin",), "write": _WRITE, "delegated": ("admin",)},
}


def token_kinds(keys: Keys) -> dict[tuple[str | None, str | None], str | None]:
    """A token of each kind for each tenant (the root's RSA key, acme's EC key, globex's Ed25519 key)."""
    made: dict[tuple[str | None, str | None], str | None] = {}
    for tenant, key, alg in ((None, keys.rsa, "RS256"), ("acme", keys.ec, "ES256"), ("globex", keys.ed, "EdDSA")):
        issuer = ISSUER + (tenant or "")
        other = mint(keys.rsa) if tenant else mint(keys.ec, "ES256", iss=ISSUER + "acme")
        for kind, token in (("read", mint(key, alg, iss=issuer)),
                            ("admin", mint(key, alg, iss=issuer, scope="admin")),
                            ("write", mint(key, alg, iss=issuer, scope="api:write push:write files:read")),
                            ("bound", mint(key, alg, iss=issuer, cnf={"jkt": "A" * 43})),
                            ("expired", mint(key, alg, iss=issuer, exp=NOW - 5)),
                            ("forged", mint(keys.attacker, iss=issuer)),
                            ("other tenant", other),
                            ("delegated", mint(key, alg, iss=issuer, scope="admin", act={"sub": "agent-7"})),
                            (None, None)):
            made[tenant, kind] = token
    return made


Outcome = tuple[int, str | None, str | None, str | None, str | None]  # status, scheme, error, scope, audit reason


def expected(tenant: str | None, kind: str | None, route: str, body: int, scheme: str) -> Outcome:
    """The outcome of ``POST`` to ``route`` under ``tenant`` (None: the root) with ``kind`` presented by ``scheme``."""
    shown = "DPoP" if scheme == "dpop" else "Bearer"
    if kind is None:
        return 401, "Bearer", None, None, "missing_token"
    if kind == "expired":
        return 401, shown, "invalid_token", None, "expired"
    if kind == "forged" or (kind == "other tenant" and tenant is not None):
        return 401, shown, "invalid_token", None, "signature" if tenant is None and kind == "forged" else "key"
    if kind == "bound" and scheme == "bearer":
        return 401, "DPoP", "invalid_token", None, "dpop_required"
    if scheme == "dpop":
        return 401, "DPoP", "invalid_dpop_proof", None, "dpop_proof"
    judged_by = "acme" if kind == "other tenant" else tenant
    if body in MALFORMED and route == "a2a":
        return 200, None, None, None, "invalid_request"  # JSON-RPC 2.0 §5, in-band, as the a2a-sdk behind it answers
    if body in MALFORMED or ((route, body) == ("a2a", 4) and judged_by != "globex"):
        return 400, "Bearer", "invalid_request", None, "invalid_request"
    needs = NEEDS[route, body]
    effective = EFFECTIVE[tenant or "root"][kind]
    if effective is _EVERYTHING or all(scope in effective for scope in needs):
        return 200, None, None, None, None
    return 403, "Bearer", "insufficient_scope", " ".join(needs), "insufficient_scope"


def outcome(answer: Any, reason: str | None) -> Outcome:
    """What the guard answered, in ``expected``'s terms: the challenge's scheme, ``error`` and ``scope``."""
    header = answer.headers.get("www-authenticate")
    if header is None:
        return answer.status_code, None, None, None, reason
    params = dict(part.strip().split("=", 1) for part in header.split(" ", 1)[1].split(", ") if "=" in part)
    unquote = {name: value.strip('"') for name, value in params.items()}
    return answer.status_code, header.split(" ", 1)[0], unquote.get("error"), unquote.get("scope"), reason


def headers_for(token: str | None, scheme: str) -> dict[str, str]:
    """The request headers presenting ``token`` by ``scheme`` (``dpop``: with a ``DPoP`` header that is no proof)."""
    headers = {} if token is None else {"authorization": f"{'DPoP' if scheme == 'dpop' else 'Bearer'} {token}"}
    if scheme != "bearer":
        headers["dpop"] = "a.b.c"
    return headers
