"""A small MCP client that a lesson drives one step at a time (MCP 2025-11-25 authorization), over real HTTP.

    client = McpClient(lab)                     # alice's client for the lab agent's /mcp
    client.discover()                           # 401 -> RFC 9728 metadata -> RFC 8414 metadata (issuer checked)
    client.register()                           # pre-registered, else a metadata document, else RFC 7591
    client.authorize("api:read")                # code + PKCE S256 + resource, the headless login approving
    answer = client.call_tool("write_file", {"path": "notes.txt", "content": "hi"})
    answer.status, answer.challenge.get("scope")  # 403, "files:write": what to ask for next (step-up)

The official SDK (``labkit.flows.sdk``) does all of this inside one call; this client leaves every decision to
its caller: which scopes to ask for, what to do when a refresh is refused. It keeps its tokens in memory only
and never shows them (``repr`` gives fingerprints). Raises ``ClientError`` when a server refuses a step.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import httpx
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from ..auth.principal import fingerprint
from ..lab.calls import AuthChallenge, CallResult, parse_challenge
from .recorder import FlowRecorder

if TYPE_CHECKING:
    from ..lab.runner import Lab
    from .sdk import ClientMetadataHost

__all__ = ["REDIRECT_URI", "ClientError", "Discovery", "McpClient", "registration_order"]

REDIRECT_URI = "http://127.0.0.1:8766/callback"  # a loopback redirect (RFC 8252 §7.3): read, never followed


class ClientError(RuntimeError):
    """A server refused a step: ``error`` is its OAuth error code (``invalid_grant``, ...), ``status`` its HTTP
    status."""

    def __init__(self, step: str, status: int, error: str, description: str = "") -> None:
        super().__init__(f"{step}: HTTP {status} {error}" + (f" ({description})" if description else ""))
        self.step, self.status, self.error, self.description = step, status, error, description


def _refused(step: str, answer: httpx.Response, error: str = "", description: str = "") -> ClientError:
    """The ``ClientError`` for a refusal: the server's ``error`` and ``error_description`` (JSON body or redirect)."""
    body = _json(answer)
    return ClientError(step, answer.status_code, error or str(body.get("error", "")),
                       description or str(body.get("error_description", "")))


@dataclass(frozen=True)
class Discovery:
    """What the client learned before authorizing: the 401's challenge and both metadata documents."""

    challenge: AuthChallenge | None
    resource: dict[str, Any] = field(default_factory=dict)  # RFC 9728 protected resource metadata
    server: dict[str, Any] = field(default_factory=dict)  # RFC 8414 authorization server metadata


def registration_order(server: dict[str, Any], *, client_id: str | None = None,
                       metadata_url: str | None = None) -> str:
    """How a client gets its ``client_id`` at ``server``, in the order of MCP 2025-11-25 "Client Registration
    Approaches": ``pre-registered``, ``metadata document``, ``registration`` (RFC 7591), else ``none``."""
    if client_id:
        return "pre-registered"
    if metadata_url and server.get("client_id_metadata_document_supported") is True:
        return "metadata document"
    if server.get("registration_endpoint"):
        return "registration"
    return "none"


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class McpClient:
    """One user's MCP client for the lab agent's ``/mcp``: public (PKCE, no secret), tokens in memory.

    ``client_id``: a pre-registered client (used as given); ``metadata_host``: a ``ClientMetadataHost`` serving
    this client's metadata document (its URL becomes the ``client_id`` when the server supports it);
    ``recorder``: records every exchange.
    """

    def __init__(self, lab: Lab, *, user: str = "alice", client_id: str | None = None,
                 metadata_host: ClientMetadataHost | None = None, recorder: FlowRecorder | None = None,
                 client_name: str = "my MCP client") -> None:
        self.lab, self.user, self.client_name = lab, user, client_name
        self.resource = f"{lab.agent_url}/mcp"
        self.redirect_uri = REDIRECT_URI
        self.client_id = client_id
        self.metadata_host = metadata_host
        self.registered_by = "pre-registered" if client_id else ""
        self.scope = ""  # what the provider granted last (RFC 6749 §5.1)
        self.discovery: Discovery | None = None
        self._access: str | None = None
        self._refresh: str | None = None
        self._hooks: dict[str, Any] = dict(recorder.sync_hooks()) if recorder else {}

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request on a client of its own (closed at once: nothing to leak between cells)."""
        with httpx.Client(timeout=10, trust_env=False, event_hooks=self._hooks) as http:
            return http.request(method, url, **kwargs)

    # -- discovery and registration ----------------------------------------------------------
    def discover(self) -> Discovery:
        """The 401 of an unauthenticated call, the metadata it points to, and the authorization server's metadata
        (RFC 9728 §5.1, RFC 8414 §3.3: the issuer must be the one the resource named). Raises ``ClientError``."""
        answer = self._send("POST", self.resource, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                                 headers={"Accept": "application/json, text/event-stream"})
        challenge = parse_challenge(answer.headers.get("www-authenticate"))
        url = challenge.get("resource_metadata") if challenge else None
        if answer.status_code != 401 or not url:
            raise ClientError("discovery", answer.status_code, "no resource_metadata in the challenge")
        resource = _json(self._send("GET", url))
        # RFC 9728 §3.3: the metadata describes this very endpoint, or it is not used
        if resource.get("resource") != self.resource or not resource.get("authorization_servers"):
            raise ClientError("discovery", 200, "the resource metadata names another resource")
        issuer = str(resource["authorization_servers"][0])
        server = _json(self._send("GET", f"{issuer}/.well-known/oauth-authorization-server"))
        # RFC 8414 §3.3: the metadata's issuer is the one we asked for
        if server.get("issuer") != issuer:
            raise ClientError("discovery", 200, "the server metadata names another issuer")
        self.discovery = Discovery(challenge, resource, server)
        return self.discovery

    def register(self) -> str:
        """Get a ``client_id`` in the spec's order (``registration_order``); returns how. Raises ``ClientError``."""
        server = (self.discovery or self.discover()).server
        url = self.metadata_host.client_id if self.metadata_host is not None else None
        how = registration_order(server, client_id=self.client_id, metadata_url=url)
        if how == "metadata document" and self.metadata_host is not None:
            self.metadata_host.publish(client_name=self.client_name, redirect_uris=[self.redirect_uri])
            self.client_id = self.metadata_host.client_id  # the AS fetches the document when it sees this id
        elif how == "registration":
            answer = self._send("POST", server["registration_endpoint"], json={
                "client_name": self.client_name, "redirect_uris": [self.redirect_uri],
                "grant_types": ["authorization_code", "refresh_token"], "token_endpoint_auth_method": "none"})
            if answer.status_code != 201:
                raise _refused("registration", answer)
            self.client_id = str(_json(answer)["client_id"])
        elif how == "none":
            raise ClientError("registration", 0, "the server offers no way to get a client_id")
        self.registered_by = how
        return how

    # -- tokens -------------------------------------------------------------------------------
    def authorize(self, scope: str) -> str:
        """The authorization code flow with PKCE S256 and ``resource`` for ``scope`` (the headless login approves as
        the user); returns the granted scope. Raises ``ClientError``."""
        if self.client_id is None:
            self.register()
        server = (self.discovery or self.discover()).server
        verifier = secrets.token_urlsafe(48)  # RFC 7636 §4.1: the verifier stays here, its hash goes out
        state = secrets.token_urlsafe(16)
        answer = self._send("GET", server["authorization_endpoint"], params={
            "response_type": "code", "client_id": self.client_id, "redirect_uri": self.redirect_uri,
            "scope": scope, "state": state, "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256", "resource": self.resource, "login_hint": self.user})
        query = {k: v[0] for k, v in parse_qs(urlsplit(answer.headers.get("location", "")).query).items()}
        # RFC 6749 §10.12: the answer belongs to this request; RFC 9207: and comes from this server
        if "code" not in query or query.get("state") != state or query.get("iss") != server["issuer"]:
            raise _refused("authorization", answer, query.get("error", ""), query.get("error_description", ""))
        return self._token("authorization", server, {
            "grant_type": "authorization_code", "code": query["code"], "redirect_uri": self.redirect_uri,
            "code_verifier": verifier, "resource": self.resource})

    def refresh(self) -> str:
        """Trade the refresh token for new tokens (RFC 6749 §6; the provider rotates it); returns the granted scope.
        Raises ``ClientError`` (``invalid_grant`` when the provider refuses it, e.g. after a reuse revoked it)."""
        if self._refresh is None:
            raise ClientError("refresh", 0, "no refresh token")
        server = (self.discovery or self.discover()).server
        return self._token("refresh", server, {"grant_type": "refresh_token", "refresh_token": self._refresh,
                                                "resource": self.resource})

    def _token(self, step: str, server: dict[str, Any], form: dict[str, str]) -> str:
        answer = self._send("POST", server["token_endpoint"], data={**form, "client_id": str(self.client_id)})
        body = _json(answer)
        if answer.status_code != 200 or "access_token" not in body:
            raise _refused(step, answer)
        self._access = str(body["access_token"])
        self._refresh = str(body["refresh_token"]) if body.get("refresh_token") else self._refresh
        self.scope = str(body.get("scope", form.get("scope", "")))
        return self.scope

    @property
    def refresh_token(self) -> str | None:
        """The refresh token held now (what a thief who reads the client's storage takes)."""
        return self._refresh

    @property
    def access_token(self) -> str | None:
        """The access token held now."""
        return self._access

    # -- calls --------------------------------------------------------------------------------
    def call_tool(self, name: str, arguments: dict[str, Any] | None = None) -> CallResult:
        """``tools/call`` on ``/mcp`` with the access token held (none: the agent's 401)."""
        return self.lab.call("tools/call", {"name": name, "arguments": arguments or {}}, token=self._access,
                             path="/mcp")

    def list_tools(self) -> CallResult:
        """``tools/list`` on ``/mcp`` with the access token held."""
        return self.lab.call("tools/list", {}, token=self._access, path="/mcp")

    def __repr__(self) -> str:
        held = ", ".join(f"{k}=<{fingerprint(v)}>" for k, v in (("access", self._access), ("refresh", self._refresh))
                         if v)
        return f"McpClient({self.client_id or 'unregistered'!s}, scope={self.scope!r}{', ' + held if held else ''})"
