"""Client flows recorded step by step: every HTTP exchange (request, response, which RFC step) as data that a
lesson renders as a sequence diagram (mermaid text) and a table.

    recorder = FlowRecorder({lab.provider_url: "AS", lab.agent_url: "Agent"})
    http = httpx2.AsyncClient(event_hooks=recorder.async_hooks())     # or httpx: the same hooks work
    ...                                                               # run the SDK's flow over ``http``
    recorder.mermaid(), recorder.rows()

A flow with several callers (a client calls an agent, which calls the provider and another agent while the
client waits) uses ``FlowRecorder(..., nested=True)`` and hooks named by their caller
(``async_hooks(source="Agent")``): exchanges are numbered when sent, so the diagram nests each call inside
the one that caused it.

Secrets never enter the record: tokens, codes, secrets, verifiers and assertions are replaced by a short
SHA-256 fingerprint; the table shows parameter *names* (and only enumerated values such as ``grant_type``),
so it is the same on every run.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .._json import loads_bounded
from ..auth.principal import fingerprint

__all__ = ["SECRET_NAMES", "SHOWN_VALUES", "Exchange", "FlowRecorder", "classify"]

# Values that are secrets or bearer credentials: recorded as a fingerprint only.
SECRET_NAMES = frozenset({
    "access_token", "refresh_token", "id_token", "client_secret", "code", "code_verifier", "assertion",
    "client_assertion", "subject_token", "actor_token", "registration_access_token",
})
# Enumerated values safe and stable to show in the table.
SHOWN_VALUES = frozenset({
    "grant_type", "response_type", "code_challenge_method", "token_endpoint_auth_method", "requested_token_type",
    "subject_token_type", "actor_token_type", "issued_token_type", "token_type", "client_assertion_type",
    "error", "method",
})
_STEPS: tuple[tuple[str, str, str], ...] = (
    # (path fragment, step, specification)
    ("/.well-known/oauth-protected-resource", "protected resource metadata", "RFC 9728 §3"),
    ("/.well-known/oauth-authorization-server", "authorization server metadata", "RFC 8414 §3"),
    ("/.well-known/openid-configuration", "authorization server metadata", "RFC 8414 §3 / OIDC"),
    ("/.well-known/agent", "agent card", "A2A §5"),
    ("/register", "dynamic client registration", "RFC 7591 §3"),
    ("/client-metadata", "client ID metadata document (fetched by the AS)", "MCP 2025-11-25, draft-ietf-oauth-cimd §4"),
    ("/authorize", "authorization request (PKCE S256)", "RFC 6749 §4.1.1, RFC 7636"),
    ("/callback", "authorization response on loopback (iss)", "RFC 8252 §7.3, RFC 9207"),
    ("/idp/token", "ID-JAG from the enterprise IdP", "SEP-990 leg 1"),
)
_GRANTS = {
    "authorization_code": ("token request (code + verifier)", "RFC 6749 §4.1.3, RFC 8707"),
    "refresh_token": ("refresh", "RFC 6749 §6"),
    "client_credentials": ("client credentials", "RFC 6749 §4.4"),
    "urn:ietf:params:oauth:grant-type:jwt-bearer": ("JWT-bearer grant (ID-JAG)", "RFC 7523 §2.1, SEP-990"),
    "urn:ietf:params:oauth:grant-type:token-exchange": ("token exchange", "RFC 8693 §2"),
}


@dataclass(frozen=True)
class Exchange:
    """One recorded HTTP exchange: who talked to whom, what was sent (redacted) and what came back."""

    index: int
    participant: str
    method: str
    path: str
    status: int
    step: str
    spec: str
    sent: Mapping[str, str] = field(default_factory=dict)  # query + form/JSON members, secrets fingerprinted
    received: Mapping[str, Any] = field(default_factory=dict)  # JSON members of the answer, secrets fingerprinted
    challenge: str = ""  # WWW-Authenticate, when the answer had one
    location: str = ""  # a redirect's target, secrets fingerprinted
    bearer: str = ""  # fingerprint of the Authorization: Bearer token sent, if any
    source: str = ""  # who sent it (nested flows); "" is the recorder's client

    def summary(self) -> str:
        """What was sent, deterministically: parameter names, with only enumerated values shown."""
        parts = [f"{k}={v}" if k in SHOWN_VALUES else k for k, v in sorted(self.sent.items())]
        return ", ".join(parts)


def _redact(name: str, value: Any) -> Any:
    if name in SECRET_NAMES and isinstance(value, str):
        return f"<{fingerprint(value)}>"
    return value


def _params(text: str) -> dict[str, str]:
    try:
        return {k: _redact(k, v) for k, v in parse_qsl(text, keep_blank_values=True)}
    except ValueError:
        return {}


def _json_members(body: bytes) -> dict[str, Any]:
    try:
        parsed = loads_bounded(body)  # a server's body: bounded depth, ValueError (never RecursionError)
    except ValueError:
        return {}
    if not isinstance(parsed, dict):
        return {}
    if "jsonrpc" in parsed:  # JSON-RPC: keep the method or the error, not the payload
        error = parsed.get("error")
        return {"method": parsed.get("method"), "error": error.get("message") if isinstance(error, dict) else None}
    return {k: _redact(k, v) for k, v in parsed.items()}


_MCP_REVISIONS = {"server/discover": "MCP 2026-07-28 (the SDK's probe)"}


def classify(method: str, path: str, sent: Mapping[str, Any], status: int) -> tuple[str, str]:
    """``(step, specification)`` of one exchange, from its path, grant type and status."""
    for fragment, step, spec in _STEPS:
        if fragment in path:
            return step, spec
    if path.endswith("/token"):
        return _GRANTS.get(str(sent.get("grant_type")), ("token request", "RFC 6749 §3.2"))
    rpc = str(sent.get("method") or "")
    if status == 401:
        return "challenge: no or bad token", "RFC 6750 §3, RFC 9728 §5.1"
    if status == 403:
        return "challenge: insufficient scope", "RFC 6750 §3.1"
    if path.rstrip("/").endswith("/mcp"):
        # MCP 2025-11-25 opens a session with initialize; server/discover belongs to the SDK's newer revision
        return f"MCP {rpc}".strip(), _MCP_REVISIONS.get(rpc, "MCP 2025-11-25")
    return f"A2A {rpc}".strip(), "A2A JSON-RPC"


class FlowRecorder:
    """Collects ``Exchange`` records from httpx / httpx2 event hooks; participants are named by origin."""

    def __init__(self, participants: Mapping[str, str] | None = None, *, client: str = "Client",
                 nested: bool = False) -> None:
        self.participants = {self._origin(url): name for url, name in (participants or {}).items()}
        # a participant's own path (a private lab's secret prefix, labkit.capability): paths are shown without it
        self._bases = {self._origin(url): urlsplit(str(url)).path.rstrip("/") for url in (participants or {})}
        self.client = client
        self.nested = nested
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()  # a nested flow's callers run in other threads (an agent's server)
        self._count = 0
        self._sent: dict[int, int] = {}  # id(request) -> the index it got when sent (nested flows)
        self._events: list[tuple[bool, int]] = []  # (answered?, index) in the order they happened

    @staticmethod
    def _origin(url: str) -> str:
        parts = urlsplit(str(url))
        return f"{parts.scheme}://{parts.netloc}"

    def _name(self, url: str) -> str:
        return self.participants.get(self._origin(url), "Server")

    def _path(self, url: Any) -> str:
        """The path of ``url`` as its participant serves it: without the participant's own path prefix, first or
        after ``/.well-known/<name>`` (RFC 8414 §3.1, RFC 9728 §3.1)."""
        path = urlsplit(str(url)).path or "/"
        base = self._bases.get(self._origin(str(url)), "")
        if not base:
            return path
        if path == base or path.startswith(base + "/"):
            return path[len(base):] or "/"
        parts = path.split("/")  # "", ".well-known", name, then the participant's path
        rest = "/".join(["", *parts[3:]])
        if path.startswith("/.well-known/") and (rest == base or rest.startswith(base + "/")):
            return "/".join(parts[:3]) + rest[len(base):]
        return path

    def record(self, request: Any, response: Any, body: bytes, source: str = "") -> Exchange:
        """Add one exchange from a request, its response and the response body already read."""
        url = request.url
        sent = _params(str(url.query.decode() if isinstance(url.query, bytes) else url.query))
        try:
            content = bytes(request.content or b"")
        except Exception:  # a streamed request body the client never buffered: nothing to show
            content = b""
        content_type = request.headers.get("content-type", "")
        if "x-www-form-urlencoded" in content_type:
            sent.update(_params(content.decode("utf-8", "replace")))
        elif "json" in content_type:
            sent.update({k: v for k, v in _json_members(content).items() if v is not None})
        received = _json_members(body) if "json" in response.headers.get("content-type", "") else {}
        authorization = request.headers.get("authorization", "")
        bearer = f"<{fingerprint(authorization[7:])}>" if authorization.lower().startswith("bearer ") else ""
        location = response.headers.get("location", "")
        if location:
            base, _, query = location.partition("?")
            location = base + ("?" + "&".join(f"{k}={v}" for k, v in _params(query).items()) if query else "")
        path = self._path(url)
        step, spec = classify(request.method, path, sent, response.status_code)
        with self._lock:
            index = self._sent.pop(id(request), None)
            if index is None:
                index = self._open()
            exchange = Exchange(index, self._name(str(url)), request.method, path, response.status_code, step, spec,
                                sent, received, response.headers.get("www-authenticate", ""), location, bearer,
                                source)
            self.exchanges.append(exchange)
            self.exchanges.sort(key=lambda e: e.index)
            self._events.append((True, index))
        return exchange

    def _open(self) -> int:
        """A new exchange's index, and the moment it was sent (call with the lock held)."""
        self._count += 1
        self._events.append((False, self._count))
        return self._count

    def _on_request(self, request: Any) -> None:
        if self.nested:
            with self._lock:
                self._sent[id(request)] = self._open()

    def async_hooks(self, source: str = "") -> dict[str, list[Callable[[Any], Awaitable[None]]]]:
        """``event_hooks`` for an ``httpx.AsyncClient`` or ``httpx2.AsyncClient`` (JSON bodies are read).

        ``source``: who sends through this client (nested flows; default the recorder's client).
        """

        async def on_request(request: Any) -> None:
            self._on_request(request)

        async def on_response(response: Any) -> None:
            body = b""
            if "json" in response.headers.get("content-type", ""):
                body = await response.aread()
            self.record(response.request, response, body, source)

        return {"request": [on_request], "response": [on_response]}

    def sync_hooks(self, source: str = "") -> dict[str, list[Callable[[Any], None]]]:
        """``event_hooks`` for an ``httpx.Client`` (JSON bodies are read); ``source`` as in ``async_hooks``."""

        def on_response(response: Any) -> None:
            body = response.read() if "json" in response.headers.get("content-type", "") else b""
            self.record(response.request, response, body, source)

        return {"request": [self._on_request], "response": [on_response]}

    # -- rendering ----------------------------------------------------------------------------
    def rows(self) -> list[dict[str, Any]]:
        """One row per exchange (no URL ports, no secret, no random value): the lesson's table."""
        return [{"#": e.index, **({"from": e.source or self.client} if self.nested else {}),
                 "to": f"{e.participant} (from {e.source})" if e.source and not self.nested else e.participant,
                 "request": f"{e.method} {e.path}", "status": e.status, "step": e.step, "spec": e.spec,
                 "sent": e.summary()} for e in self.exchanges]

    def mermaid(self) -> str:
        """A mermaid ``sequenceDiagram`` of the flow (labels stripped of mermaid's own syntax).

        Calls and answers appear in the order they happened, so a nested flow's inner calls sit inside the outer.
        """
        lines = ["sequenceDiagram", f"    participant C as {_label(self.client)}"]
        names = list(dict.fromkeys(n for e in self.exchanges for n in (e.source, e.participant)
                                   if n and n != self.client))
        ids = {name: f"P{i}" for i, name in enumerate(names)}
        ids[""] = ids[self.client] = "C"
        lines += [f"    participant {ids[n]} as {_label(n)}" for n in names]
        by_index = {e.index: e for e in self.exchanges}
        with self._lock:
            events = list(self._events)
        for answered, index in events:
            e = by_index.get(index)
            if e is None:
                continue  # sent, never answered: not part of the record
            source, target = ids[e.source], ids[e.participant]
            if answered:
                lines.append(f"    {target}-->>{source}: {e.status} {_label(e.step)}")
            else:
                lines.append(f"    {source}->>{target}: {e.index}. {_label(e.method + ' ' + e.path)}")
        return "\n".join(lines)

    def markdown(self) -> str:
        """The diagram as a fenced mermaid block (JupyterLab renders it)."""
        return f"```mermaid\n{self.mermaid()}\n```"

    def __repr__(self) -> str:
        return f"FlowRecorder({len(self.exchanges)} exchanges)"

    def _repr_html_(self) -> str:
        columns = ("#", *(("from",) if self.nested else ()), "to", "request", "status", "step", "spec", "sent")
        head = "".join(f"<th>{html.escape(k)}</th>" for k in columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row.values()) + "</tr>"
                       for row in self.rows())
        return f"<table><tr>{head}</tr>{body}</table>"


def _label(text: str) -> str:
    """Text safe inside a mermaid message: no line breaks, no ``;#:`` or angle brackets, bounded."""
    cleaned = "".join(c if c.isprintable() and c not in ";#:<>{}\"" else " " for c in text)
    return cleaned[:80]
