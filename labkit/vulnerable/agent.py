"""UNSAFE: ``VulnerableAgent``, the vulnerable app on its own loopback port, with an attacker's key site beside it.

Started only by ``Lab(vulnerable=...)`` (never by ``sample_agent``, ``labkit serve`` or any configuration file).
Weaknesses can be switched off and on while it runs: replay the same token and watch 200 become 401.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .. import rpc
from ..audit import AuditLog
from ..config import OAuth2Config
from ..scopes import ScopeHierarchy
from ..servers import ServerThread
from .app import VulnerableApp, VulnerableState, weakness_names

__all__ = ["AttackerSite", "VulnerableAgent"]


class AttackerSite:
    """The attacker's web server (loopback): serves whatever JWK Set was last published at ``/jwks.json``."""

    def __init__(self, *, capability: str | None = None) -> None:
        self.jwks: dict[str, Any] = {"keys": []}
        self.fetches = 0

        async def jwks(request: Request) -> JSONResponse:
            self.fetches += 1
            return JSONResponse(self.jwks)

        self._server = ServerThread(Starlette(routes=[Route("/jwks.json", jwks)]), name="attacker",
                                    capability=capability)
        self.url = self._server.url

    def publish(self, jwks: dict[str, Any]) -> str:
        """Serve ``jwks`` and return its URL (what an attacker puts in ``jku``)."""
        self.jwks = jwks
        return f"{self.url}/jwks.json"

    def start(self) -> None:
        """Start serving."""
        self._server.start()

    def stop(self) -> None:
        """Stop serving."""
        self._server.stop()


class VulnerableAgent:
    """The vulnerable agent and its attacker site (both private with ``capability``, ``labkit.capability``).
    Raises ``ValueError`` for an unknown weakness name."""

    def __init__(self, weaknesses: Iterable[str] | bool, oauth2: OAuth2Config, hierarchy: ScopeHierarchy, *,
                 clock: Callable[[], float] | None = None, port: int = 0, capability: str | None = None) -> None:
        self.state = VulnerableState(weakness_names(weaknesses))
        self.audit = AuditLog(redact=(capability,) if capability else ())
        self._keys = tempfile.TemporaryDirectory(prefix="labkit-vulnerable-keys-")
        (Path(self._keys.name) / "hmac-1").write_bytes(b"the vulnerable agent's own HMAC key, 32+ bytes long")
        self.app = VulnerableApp(oauth2, hierarchy, self.state, self.audit, clock=clock or time.time,
                                 keys_dir=Path(self._keys.name))
        self._server = ServerThread(self.app, port=port, name="vulnerable-agent", capability=capability)
        self.url = self._server.url
        self.attacker = AttackerSite(capability=capability)
        self._clients: list[httpx.Client] = []
        self._http: httpx.Client | None = None  # execute() and get() share one client

    def servers(self) -> tuple[ServerThread, ...]:
        """The agent's server and the attacker site's."""
        return self._server, self.attacker._server

    @property
    def weaknesses(self) -> frozenset[str]:
        """The weaknesses switched on now."""
        return frozenset(self.state.weaknesses)

    def disable(self, *names: str) -> frozenset[str]:
        """Switch weaknesses off (the fix); returns those still on. Raises ``ValueError`` for an unknown name."""
        self.state.weaknesses -= weakness_names(names)
        self.state.cache.clear()
        return self.weaknesses

    def only(self, *names: str) -> frozenset[str]:
        """Switch on exactly ``names`` (none: the agent is fixed). Raises ``ValueError`` for an unknown name."""
        self.state.weaknesses = weakness_names(names)
        self.state.cache.clear()
        return self.weaknesses

    def enable(self, *names: str) -> frozenset[str]:
        """Switch weaknesses on again; returns those on. Raises ``ValueError`` for an unknown name."""
        self.state.weaknesses |= weakness_names(names)
        self.state.cache.clear()
        return self.weaknesses

    @property
    def leaks(self) -> list[tuple[str, str]]:
        """(served to, cached for) pairs: answers the shared cache gave to the wrong user."""
        return list(self.state.leaks)

    def start(self) -> VulnerableAgent:
        """Start the agent and the attacker site."""
        self.attacker.start()
        try:
            self._server.start()
        except BaseException:
            self.attacker.stop()
            raise
        return self

    def close(self) -> None:
        """Stop the agent and the attacker site, close its clients and remove the key folder."""
        for client in self._clients:
            client.close()
        self._clients.clear()
        self._http = None
        self._server.stop()
        self.attacker.stop()
        self._keys.cleanup()

    def client(self, token: str | None = None) -> httpx.Client:
        """An httpx client for the vulnerable agent (``Authorization: Bearer`` when a token is given)."""
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        client = httpx.Client(base_url=self.url, headers=headers, timeout=30)
        self._clients.append(client)
        return client

    def _shared(self) -> httpx.Client:
        if self._http is None:
            self._http = self.client()
        return self._http

    def execute(self, capability: str, *, token: str | None, path: str = "/") -> httpx.Response:
        """One JSON-RPC ``execute`` call."""
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return self._shared().post(path, json=rpc.request("execute", {"capability": capability}), headers=headers)

    def get(self, path: str, *, token: str | None = None) -> httpx.Response:
        """A GET of ``path`` as httpx sends it: percent-encodings kept, but dot segments (``..``) resolved by the
        client before sending (``craft.raw_get`` sends them as written)."""
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return self._shared().get(httpx.URL(self.url + path), headers=headers)

    def last_reasons(self, count: int = 1) -> Sequence[str]:
        """The last audit lines as ``decision reason detail`` strings."""
        return [" ".join(filter(None, (e.decision, e.reason, e.detail))) for e in self.audit.events()[-count:]]
