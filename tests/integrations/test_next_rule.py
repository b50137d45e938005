"""The next rule: added where the code says the rule lives, it holds at every front door, first seen and cached.

A maintainer adds an ordinary claim rule to ``check_claims`` (refuse a ``sub`` longer than 40 characters), or a step
to ``Gate.authenticate`` (refuse one subject), and changes nothing else. Through the README's four front doors (the
ASGI guard, FastAPI's ``BearerGuard``, Starlette's ``BearerBackend``, an official-SDK MCP server with
``GateTokenVerifier``) and the ASGI guard in front of the sample agent's surface, the rule must hold for a token seen
for the first time and for one whose verdict the validator's cache holds: no second copy of the claim checks, no
cached path that skips the gate's steps. (On e7d4ed9 both tests fail: ``PrincipalReader`` never called
``check_claims`` for an ordinary token, and the guard's cached path skipped ``Gate.authenticate``.)

The claim rule is in force before the token is first seen: a verdict cached before a rule existed is the cache TTL's
business (the revocation delay), not a bypass. The gate's step runs on every request, so it also refuses a
principal the cache already holds.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

import labkit.auth.claims
from labkit.errors import AuthError, Reason
from labkit.guard.decision import Decision
from labkit.guard.gate import Gate

from ..guard.guard_app import asgi_request, recording_guard
from ..helpers import AUDIENCE, ISSUER, Keys, mint
from .test_integrations import KINDS, build_apps, call, served, write_config

pytestmark = pytest.mark.anyio

DOORS = (*KINDS, "agent")  # the README's four, and the ASGI guard in front of the sample agent's routes
_CAPABILITIES = b'{"jsonrpc":"2.0","id":1,"method":"capabilities"}'


def _add_claim_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """``check_claims`` with one more rule, wherever labkit holds it (as editing its body would do)."""
    original = labkit.auth.claims.check_claims

    def check_claims(claims: Mapping[str, Any], policy: Any, now: float, *, required: Any = ()) -> None:
        original(claims, policy, now, required=required)
        subject = claims.get("sub")
        if isinstance(subject, str) and len(subject) > 40:
            raise AuthError(Reason.CLAIMS, "sub is longer than 40 characters")

    for module in [m for name, m in sys.modules.items() if name.split(".")[0] == "labkit"]:
        if getattr(module, "check_claims", None) is original:
            monkeypatch.setattr(module, "check_claims", check_claims)


def _add_gate_step(monkeypatch: pytest.MonkeyPatch, refused: str) -> None:
    """``Gate.authenticate`` with one more step: the subject ``refused`` is turned away."""
    original = Gate.authenticate

    async def authenticate(self: Gate, *args: Any, **kwargs: Any) -> Decision:
        found = await original(self, *args, **kwargs)
        if found.principal is not None and found.principal.subject == refused:
            return found.refuse(AuthError(Reason.CLAIMS, f"{refused} is not welcome here"))
        return found

    monkeypatch.setattr(Gate, "authenticate", authenticate)


@contextlib.asynccontextmanager
async def _door(kind: str, keys: Keys, tmp_path: Path) -> AsyncIterator[tuple[Callable[..., Any], Gate]]:
    """A fresh app of ``kind`` (empty caches) and a call ``send(token) -> status`` through it, plus its gate."""
    if kind == "agent":
        guard, _, agent, _ = recording_guard(keys)

        async def send_agent(token: str) -> int:
            answer = await asgi_request(guard, "POST", "/", body=_CAPABILITIES,
                                        headers={"authorization": f"Bearer {token}"})
            return answer.status_code

        yield send_agent, agent.gate
        return
    write_config(tmp_path, {"validation_strategy": "jwt", "jwks": keys.jwks(keys.rsa), "jwt_algorithms": ["RS256"],
                            "jwt_issuer": ISSUER, "jwt_audience": AUDIENCE})
    namespace = build_apps(tmp_path, {})[kind]
    async with served(kind, namespace) as client:

        async def send(token: str) -> int:
            response: httpx.Response = await call(client, kind, f"Bearer {token}")
            return response.status_code

        yield send, namespace["gate"]


def _token(keys: Keys, kind: str, sub: str, n: int = 0) -> str:
    if kind == "agent":  # the sample agent's gate runs on the tests' fixed clock
        return mint(keys.rsa, sub=sub, jti=f"{sub}-{n}")
    now = int(time.time())  # the MCP SDK checks exp against the wall clock itself
    return mint(keys.rsa, sub=sub, iat=now - 60, nbf=now - 60, exp=now + 3600, jti=f"{sub}-{n}")


def _hits(gate: Gate) -> int:
    return sum(auth.validator.cache.hits for auth in gate.tenants.values())  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", DOORS)
async def test_a_claim_rule_added_to_check_claims_holds_first_seen_and_cached(kind: str, keys: Keys, tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    long, short = _token(keys, kind, "s" * 41), _token(keys, kind, "alice")
    async with _door(kind, keys, tmp_path) as (send, gate):
        _add_claim_rule(monkeypatch)
        assert [await send(long) for _ in range(2)] == [401, 401], kind  # first seen, then again: never cached
        hits = _hits(gate)
        assert [await send(short) for _ in range(2)] == [200, 200], kind
        assert _hits(gate) > hits, kind  # the second answer came from the verdict cache


@pytest.mark.parametrize("kind", DOORS)
async def test_a_step_added_to_gate_authenticate_holds_for_cached_principals(kind: str, keys: Keys, tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    eve, alice = _token(keys, kind, "eve"), _token(keys, kind, "alice")
    async with _door(kind, keys, tmp_path) as (send, gate):
        assert await send(eve) == 200, kind  # validated and cached before the step exists
        _add_gate_step(monkeypatch, "eve")
        hits = _hits(gate)
        assert await send(eve) == 401, kind  # the cached principal takes the new step
        assert _hits(gate) > hits, kind
        assert await send(_token(keys, kind, "eve", 1)) == 401, kind  # another token of eve's, first seen
        assert [await send(alice) for _ in range(2)] == [200, 200], kind
