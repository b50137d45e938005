"""A private lab: every server of one ``Lab`` answers only under a secret path prefix that only its kernel holds.

On one machine every learner shares the loopback interface, so a port is no boundary. A private lab's URLs are
capability URLs, ``http://127.0.0.1:PORT/<secret>/...``: the issuer, the endpoints in the metadata, the JWKS URI,
the agent's RFC 9728 resource and every link the lab prints carry the secret, so each client that starts from
``lab.provider_url`` / ``lab.agent_url`` (the lab's own helpers, a learner's httpx, the MCP TypeScript SDK) carries it
without knowing. ``CapabilityGate`` is the one home of the rule: ``ServerThread`` puts it in front of the app it
serves when given a capability, and a request whose path does not begin with the secret never reaches the app.

The path it accepts, with the prefix taken out before the app sees it (as a reverse proxy that strips a prefix;
the app's public URL names the prefix, see ``labkit.guard.dpop.request_url``):

- ``/<secret>`` and ``/<secret>/rest``, and
- ``/.well-known/<name>/<secret>[/rest]``: where RFC 8414 §3.1 and RFC 9728 §3.1 put a well-known name for an
  issuer or a resource whose URL has a path (the secret is that path's first segment).

Anything else gets the same 404, decided in constant time over a fixed-length digest: no body, header or timing
difference tells a wrong prefix from a nearly right one, and the secret is never logged or echoed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["CapabilityGate", "new_capability", "private_by_default"]

_NOT_FOUND = b"Not Found"
_WELL_KNOWN = b"/.well-known/"


def new_capability() -> str:
    """A fresh lab secret: 256 random bits, URL-safe (a path segment as it is). Raises nothing."""
    return secrets.token_urlsafe(32)


def private_by_default(environ: dict[str, str] | None = None) -> bool:
    """Whether a lab is private when not told: ``LABKIT_PRIVATE`` (1/0) decides when set, else running under
    JupyterHub (``JUPYTERHUB_USER`` set: other learners share this machine's loopback). Raises nothing."""
    env = os.environ if environ is None else environ
    flag = env.get("LABKIT_PRIVATE", "").strip().lower()
    if flag:
        return flag not in ("0", "false", "no", "off")
    return bool(env.get("JUPYTERHUB_USER"))


def _digest(value: bytes) -> bytes:
    return hashlib.sha256(value).digest()


class CapabilityGate:
    """ASGI middleware: serve ``app`` only to requests whose path carries ``capability`` (see the module). Lifespan
    events pass through; any other request without it gets a plain 404 and ``app`` is never called.
    Raises ``ValueError`` for a capability that is not a plain URL-safe path segment."""

    def __init__(self, app: ASGIApp, capability: str) -> None:
        if not capability or not all(c.isascii() and (c.isalnum() or c in "-_") for c in capability):
            raise ValueError("a lab capability is a non-empty URL-safe path segment (letters, digits, - and _)")
        self.app = app
        self._expected = _digest(capability.encode("ascii"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        inner = self._admitted(scope)
        if inner is None:
            await _refuse(scope, send)
            return
        await self.app(inner, receive, send)

    def _admitted(self, scope: Scope) -> Scope | None:
        """The scope the app sees (the secret taken out of ``path`` and ``raw_path``), or None: refused."""
        raw = scope.get("raw_path")
        wire = raw.split(b"?", 1)[0] if isinstance(raw, bytes) else str(scope.get("path", "")).encode("utf-8")
        before, segment = _split(wire)
        # the prefix is compared in constant time (fixed-length digests): a near miss costs what a far one does
        if not hmac.compare_digest(_digest(segment), self._expected) or b"%" in before:
            return None
        cut = len(before) + 1 + len(segment)  # "/<secret>" out; before it nothing is percent-encoded, so the decoded
        path = str(scope.get("path", ""))       # path has the same characters at the same places
        new_path = path[:len(before)] + path[cut:]
        if path[len(before):cut] != "/" + segment.decode("ascii", "replace"):
            return None
        inner = dict(scope)
        inner["path"] = new_path or "/"
        if isinstance(raw, bytes):
            inner["raw_path"] = (raw[:len(before)] + raw[cut:]) or b"/"
        return inner


def _split(wire: bytes) -> tuple[bytes, bytes]:
    """``(before, segment)``: where a capability stands in a raw path (first segment, or third after
    ``/.well-known/<name>``) and what stands there; ``segment`` is empty when there is none."""
    if wire.startswith(_WELL_KNOWN):
        name_end = wire.find(b"/", len(_WELL_KNOWN))
        if name_end <= len(_WELL_KNOWN):
            return wire, b""
        before, rest = wire[:name_end], wire[name_end + 1:]
    elif wire.startswith(b"/"):
        before, rest = b"", wire[1:]
    else:
        return wire, b""
    return before, rest.partition(b"/")[0]


async def _refuse(scope: Scope, send: Send) -> None:
    """The one refusal: a plain 404 (an HTTP request) or a closed handshake (a WebSocket), nothing else said."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    await send({"type": "http.response.start", "status": 404,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(_NOT_FOUND)).encode("ascii"))]})
    await send({"type": "http.response.body", "body": _NOT_FOUND})
