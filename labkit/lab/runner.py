"""``Lab``: the provider, the sample agent and a webhook receiver on free loopback ports, for lessons and tests.

    with Lab() as lab:
        token = lab.token(scopes=["api:read"])      # through the provider's real token endpoint
        answer = lab.call("execute", {"capability": "echo"}, token=token)
        answer.status, answer.challenge, answer.event  # its status, parsed WWW-Authenticate, its own audit event
        lab.run(validator.validate(token))            # a coroutine, on the lab's own event loop
"""

from __future__ import annotations

import dataclasses
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from .. import rpc
from ..a2a.webhook import WebhookReceiver
from ..audit import AuditEvent, AuditLog
from ..capability import new_capability, private_by_default
from ..config import SecurityConfig, load_config, validate_security_config
from ..observability import LogCapture
from ..provider import MockProvider
from ..provider.clients import AGENT_AUDIENCE
from ..provider.models import Client
from ..provider.personas import persona_client
from ..servers import ServerThread
from .calls import CallResult, admin_mint, parse_challenge, request_token

if TYPE_CHECKING:
    from anyio.from_thread import BlockingPortal

    from ..vulnerable import VulnerableAgent
    from ..vulnerable.flow import FlowLab
    from ..vulnerable.proxy import PassthroughProxy
    from .downstream import DownstreamAgent

__all__ = ["Lab"]

_T = TypeVar("_T")
_ConfigSource = str | os.PathLike[str] | dict[str, Any] | SecurityConfig  # a YAML path, a mapping or a config

class Lab:
    """Provider + agent (uvicorn in threads on 127.0.0.1, ports bound first), wired together.

    ``config``: an ``agentup.yml`` path, a mapping or a ``SecurityConfig`` for the agent; by default the
    lab's ``sample_agent/agentup.yml``. ``${LAB_PROVIDER_URL}`` in it is the running provider's URL.
    ``host``/``public_url``: bind address and the agent's URL as advertised behind a proxy; ``capture_logs``:
    keep the ``labkit`` loggers' records in ``lab.logs`` while running instead of the root logger's handlers.
    ``vulnerable``: weakness names (or ``True`` for all) to start ``lab.vulnerable``, a separate UNSAFE agent
    on its own port for lesson 10 (``labkit.vulnerable``); the real agent is never changed by it.
    ``downstream``: start ``lab.downstream``, a second agent with its own audience (``labkit.lab.downstream``), and
    wire the agent's ``external_api`` plugin to call it on its callers' behalf by token exchange (RFC 8693).
    ``proxy``: start ``lab.proxy``, lesson 17's UNSAFE token-passthrough proxy (``labkit.vulnerable.proxy``) in front
    of the downstream agent (implied), which then skips its audience check and also lets ``lab-proxy`` act for users.
    ``vulnerable_as``: mistake names (or ``True`` for all) to start ``lab.flow``, lesson 18's UNSAFE authorization
    server and client, the victim's browser and the attacker's site (``labkit.vulnerable.flow``); the provider is
    never changed by it.
    ``serve``: what the agent's socket serves, made from the agent app (``lab.app``) at start and on ``reload``;
    by default the app itself (a benchmark serves ``lambda app: Baseline(app.starlette)``, the guard left out).
    ``private``: every server of the lab answers only under a fresh secret path prefix its URLs carry
    (``labkit.capability``: other users of this machine's loopback get 404); None: on under JupyterHub or with
    ``LABKIT_PRIVATE=1`` (``private_by_default``).
    Raises ``ConfigError`` for a bad configuration, ``RuntimeError`` if a server does not start.
    """

    def __init__(
        self,
        config: str | os.PathLike[str] | dict[str, Any] | SecurityConfig | None = None,
        *,
        clock: Callable[[], float] | None = None,
        audit_path: str | os.PathLike[str] | None = None,
        tenants: tuple[str, ...] = ("acme", "globex"),
        provider_port: int = 0,
        agent_port: int = 0,
        host: str = "127.0.0.1",
        public_url: str | None = None,
        capture_logs: bool = True,
        vulnerable: Iterable[str] | bool = (),
        downstream: bool = False,
        proxy: bool = False,
        vulnerable_as: Iterable[str] | bool = (),
        serve: Callable[[Any], Any] | None = None,
        private: bool | None = None,
    ) -> None:
        weaknesses: set[str] = set()
        if vulnerable:
            from ..vulnerable.app import weakness_names

            weaknesses = weakness_names(vulnerable)  # a bad name is refused before any socket is bound
        self.flow: FlowLab | None = None
        if vulnerable_as:
            from ..vulnerable.flow import FlowLab, mistake_names

            mistake_names(vulnerable_as)  # a bad name is refused before any socket is bound
        # one secret for the lab: every server of it holds the others' URLs, and nobody else holds any
        self._capability = new_capability() if (private_by_default() if private is None else private) else None
        self.provider = MockProvider(clock=clock, tenants=tenants)
        self.webhooks = WebhookReceiver(clock=clock or time.time)
        self._webhook_server = ServerThread(self.webhooks.app, name="webhooks", capability=self._capability)
        self.webhooks.base_url = self._webhook_server.url
        self._provider_server = ServerThread(self.provider.app, host=host, port=provider_port, name="provider",
                                             capability=self._capability)
        self.provider.base_url = self._provider_server.url
        self.provider_url = self._provider_server.url
        self.downstream: DownstreamAgent | None = None
        self.proxy: PassthroughProxy | None = None
        try:
            self.config = self._resolve_config(config)
            if downstream or proxy:
                from .downstream import DEFAULT_RULE, DownstreamAgent

                rule = {"allowed_actors": [*DEFAULT_RULE["allowed_actors"], "lab-proxy"]} if proxy else None
                self.downstream = DownstreamAgent(self.provider_url, clock=clock, host=host, delegation=rule,
                                                  check_audience=not proxy, capability=self._capability)
                self.config = self._wired(self.config)
                if proxy:
                    from ..vulnerable.proxy import PassthroughProxy

                    self.proxy = PassthroughProxy(self.provider, self.provider_url, self.downstream.url,
                                                  capability=self._capability)
            if vulnerable_as:
                self.flow = FlowLab(vulnerable_as, capability=self._capability)
            self.audit = AuditLog(self.config.audit.capacity, audit_path or self.config.audit.path,
                                  redact=self._secrets())
        except BaseException:  # a bad config or audit file: release the bound sockets before saying so
            self._webhook_server.stop()
            self._provider_server.stop()
            if self.downstream is not None:
                self.downstream.close()
            if self.proxy is not None:
                self.proxy.close()
            if self.flow is not None:
                self.flow.close()
            raise
        self._clock = clock
        self._start_parts(host=host, agent_port=agent_port, public_url=public_url, capture_logs=capture_logs,
                          serve=serve, weaknesses=weaknesses)

    def _secrets(self) -> tuple[str, ...]:
        """What no audit log of this lab may hold: its capability (``labkit.capability``), when private."""
        return (self._capability,) if self._capability else ()

    def _resolve_config(self, config: _ConfigSource | None) -> SecurityConfig:
        """The agent's configuration: ``config`` as given, validated or loaded (None: ``sample_agent/agentup.yml``),
        ``${LAB_PROVIDER_URL}`` and ``${LAB_WEBHOOK_HOSTPORT}`` naming this lab's servers. Raises ``ConfigError``."""
        from sample_agent import default_config_path

        env = {**os.environ, "LAB_PROVIDER_URL": self.provider_url,
               "LAB_WEBHOOK_HOSTPORT": f"127.0.0.1:{self._webhook_server.port}"}
        if isinstance(config, SecurityConfig):
            return config
        if isinstance(config, dict):
            return validate_security_config(config, env=env)
        return load_config(Path(config) if config else default_config_path(), env=env)

    def _start_parts(self, *, host: str, agent_port: int, public_url: str | None, capture_logs: bool,
                     serve: Callable[[Any], Any] | None, weaknesses: set[str]) -> None:
        """Bind the agent's socket and make its app on this lab's config and audit log; the log capture, the
        portal's slots and the vulnerable agent (when ``weaknesses``). Nothing serves until ``start()``."""
        from sample_agent import create_app

        # The agent's URL is known once its socket is bound; the app is created with it.
        self._agent_server = ServerThread(host=host, port=agent_port, name="agent", capability=self._capability)
        self.agent_url = self._agent_server.url
        self.public_url = public_url.rstrip("/") if public_url else self.agent_url  # behind a proxy: its URL
        self.app = create_app(self.config, public_url=self.public_url, clock=self._clock, audit=self.audit)
        self._serve = serve or (lambda app: app)
        self._agent_server.app = self._serve(self.app)
        self.agent = self.app.agent
        self._agent_serves()
        self.webhooks.trust(self.agent_url)
        self._clients: list[httpx.Client] = []
        self._host = host
        # the labkit.* operator logs, kept here while the lab runs (lessons stay deterministic); None: left alone
        self.logs = LogCapture() if capture_logs else None
        self._started = False
        self._owned: list[Any] = []  # objects with an async aclose(), closed on the portal by close()
        self._portal_stack: ExitStack | None = None
        self._blocking_portal: BlockingPortal | None = None
        self.vulnerable: VulnerableAgent | None = None
        if weaknesses:
            from ..vulnerable import VulnerableAgent

            self.vulnerable = VulnerableAgent(weaknesses, self.config.oauth2, self.config.scope_hierarchy,
                                              clock=self._clock, capability=self._capability)

    def _agent_serves(self) -> None:
        """``lab-agent`` IS the agent: besides ``api://oauth2-lab-agent`` it serves the agent's RFC 9728 resource
        URLs (root, ``/mcp``, each tenant's), the RFC 8707 ``resource`` an MCP client asks its token for, so it may
        exchange those tokens (RFC 8693, ``Client.is_audience``); any other loopback resource stays refused."""
        urls = [url for tenant in (None, *self.config.tenants) for url in self.agent.resources(tenant)]
        for tenant in (None, *self.provider.tenants):
            agent = self.provider.server(tenant).store.clients.get("lab-agent")
            if agent is not None:
                serves = tuple(dict.fromkeys((AGENT_AUDIENCE, *urls)))
                self.provider.register_client(dataclasses.replace(agent, serves=serves), tenant)

    def _wired(self, config: SecurityConfig) -> SecurityConfig:
        """``config`` with ``external_api`` delegating to the downstream agent, when one runs."""
        if self.downstream is None:
            return config
        from .downstream import wire_downstream

        return wire_downstream(config, self.downstream.spec())

    def plugin_mapping(self) -> Any:
        """How the configuration's plugin, capability and MCP tool ids met the sample agent's (``PluginMapping``)."""
        from sample_agent.plugins import map_plugins

        return map_plugins(self.config.plugins, self.config.mcp_servers)

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> Lab:
        """Start the provider, the webhook receiver, the agent (and the vulnerable agent, if asked): well under a
        second here. Raises ``RuntimeError`` if one does not start (those started are stopped again)."""
        started: list[ServerThread] = []
        try:
            for server in (self._provider_server, self._webhook_server, self._agent_server):
                server.start()
                started.append(server)
            if self.vulnerable is not None:
                self.vulnerable.start()
            if self.downstream is not None:
                self.downstream.start()
            if self.proxy is not None:
                self.proxy.start()
            if self.flow is not None:
                self.flow.start()
        except BaseException:
            for server in started:
                server.stop()
            raise
        if self.logs is not None:
            self.logs.start()
        self._started = True
        return self

    @property
    def clock(self) -> Callable[[], float]:
        """The lab's clock (seconds since the epoch): the one given, else ``time.time``."""
        return self._clock or time.time

    @property
    def private(self) -> bool:
        """Whether the lab's servers answer only under its secret path prefix (``labkit.capability``)."""
        return self._capability is not None

    def servers(self) -> tuple[ServerThread, ...]:
        """Every server this lab runs (its name, port, ``url`` and app): the provider, the webhook receiver, the
        agent, and the vulnerable agent with its attacker site, the downstream agent and the proxy when started."""
        found = [self._provider_server, self._webhook_server, self._agent_server]
        for part in (self.vulnerable, self.downstream, self.proxy, self.flow):
            if part is not None:
                found += part.servers()
        return tuple(found)

    @property
    def running(self) -> bool:
        """Whether the lab's servers are up (started and not closed)."""
        return self._started

    def reload(self, config: str | os.PathLike[str] | dict[str, Any] | SecurityConfig) -> SecurityConfig:
        """Restart the agent with another configuration, on the same URL. Raises ``ConfigError`` (the old
        agent keeps running) or ``RuntimeError``."""
        from sample_agent import create_app

        new_config = self._wired(self._resolve_config(config))
        app = create_app(new_config, public_url=self.public_url, clock=self._clock, audit=self.audit)
        port = self._agent_server.port
        self._agent_server.stop()
        self._agent_server = ServerThread(self._serve(app), host=self._host, port=port, name="agent",
                                          capability=self._capability)
        self._agent_server.start()
        self.config, self.app = new_config, app
        self.agent = app.agent
        self._agent_serves()
        self.webhooks.trust(self.agent_url)
        return new_config

    def close(self) -> None:
        """Stop every server, the event loop of ``run`` and every client this lab made (no thread or socket left)."""
        if self._portal_stack is not None:
            for owned in reversed(self._owned):
                try:
                    self.run(owned.aclose(), timeout=5)
                except Exception:  # noqa: S112 - closing the rest matters more than one failed close
                    continue
            self._portal_stack.close()
            self._portal_stack = self._blocking_portal = None
        for client in self._clients:
            client.close()
        self._clients.clear()
        self._owned.clear()
        if self.vulnerable is not None:
            self.vulnerable.close()
        if self.proxy is not None:
            self.proxy.close()
        if self.flow is not None:
            self.flow.close()
        if self.downstream is not None:
            self.downstream.close()
        self._agent_server.stop()
        self._webhook_server.stop()
        self._provider_server.stop()
        self.audit.close()
        if self.logs is not None and self._started:
            self.logs.stop()
        self._started = False

    def __enter__(self) -> Lab:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- tokens, calls and coroutines ------------------------------------------------------------
    def token(
        self,
        scopes: Sequence[str] | str = ("api:read",),
        *,
        persona: str = "default",
        lifetime: int | None = None,
        tenant: str | None = None,
        resource: str | None = None,
    ) -> str:
        """An access token from the provider's real token endpoint (client credentials, ``calls.request_token``).

        ``persona``: default, limited, opaque, google, auth0, azure, okta, keycloak or github.
        Raises ``ValueError`` for an unknown persona, ``TokenRequestError`` (a ``RuntimeError``) when refused.
        """
        client_id, secret = persona_client(persona)
        if lifetime is not None:
            client_id, secret = self._client_with_lifetime(client_id, lifetime, tenant)
        return request_token(f"{self._provider_base(tenant)}/token", client_id, secret, scopes, resource=resource)

    def expired_token(self, scopes: Sequence[str] = ("api:read",), *, ago: int = 60, persona: str = "default") -> str:
        """A token that expired ``ago`` seconds ago, from the provider's admin API (as ``labkit mint --lifetime``).

        Raises ``ValueError`` for an unknown persona, ``TokenRequestError`` when refused.
        """
        client_id, _ = persona_client(persona)
        named = None if persona in ("default", "limited", "opaque") else persona
        return admin_mint(self.provider_url, scopes, lifetime=-abs(ago), client_id=client_id, persona=named,
                          admin_token=self.provider.admin_token)

    def revoke(self, token: str, *, persona: str = "opaque", tenant: str | None = None) -> int:
        """Revoke ``token`` at the provider (RFC 7009) as the persona's client; the HTTP status (200)."""
        client_id, secret = persona_client(persona)
        response = httpx.post(f"{self._provider_base(tenant)}/revoke", data={"token": token},
                              auth=(client_id, secret), timeout=10)
        return response.status_code

    def _provider_base(self, tenant: str | None) -> str:
        return f"{self.provider_url}/{tenant}" if tenant else self.provider_url

    def _client_with_lifetime(self, client_id: str, lifetime: int, tenant: str | None) -> tuple[str, str]:
        server = self.provider.server(tenant)
        base = server.store.clients[client_id]
        derived_id = f"{client_id}-ttl{lifetime}"
        if derived_id not in server.store.clients:
            self.provider.register_client(Client(**{**base.__dict__, "client_id": derived_id, "lifetime": lifetime}),
                                          tenant)
        return derived_id, str(base.client_secret)

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        """An httpx client for the agent, with ``Authorization: Bearer`` when a token is given."""
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        client = httpx.Client(base_url=self.agent_url, headers=headers, timeout=kwargs.pop("timeout", 30), **kwargs)
        self._clients.append(client)
        return client

    def rpc(self, method: str, params: dict[str, Any] | None = None, *, token: str | None = None,
            path: str = "/", a2a_version: str | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
        """One JSON-RPC call to the agent (A2A at ``/``, MCP at ``/mcp``): the raw response (see ``call``)."""
        sent = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream", **(headers or {})}
        if a2a_version:
            sent["A2A-Version"] = a2a_version
        return self.client(token).post(path, json=rpc.request(method, params), headers=sent)

    def call(self, method: str, params: dict[str, Any] | None = None, *, token: str | None = None,
             path: str = "/", a2a_version: str | None = None, headers: dict[str, str] | None = None) -> CallResult:
        """One JSON-RPC call, read: its status, JSON body, parsed ``WWW-Authenticate`` and its own audit event.

        The call carries a fresh ``X-Request-ID``; its event is the one the guard recorded with that id (not
        "the last event": other callers may be logging meanwhile). ``event`` is None if nothing was audited.
        ``headers``: sent as given (e.g. ``Authorization: DPoP ...`` and a ``DPoP`` proof, with ``token`` None).
        """
        request_id = "lab-" + uuid.uuid4().hex[:16]
        response = self.rpc(method, params, token=token, path=path, a2a_version=a2a_version,
                            headers={**(headers or {}), "X-Request-ID": request_id})
        return self._result(response, request_id)

    def get(self, path: str, *, token: str | None = None) -> CallResult:
        """A GET of the agent at ``path`` (kept as written: percent-encodings, dot segments), read as ``call``."""
        request_id = "lab-" + uuid.uuid4().hex[:16]
        response = self.client(token).get(httpx.URL(self.agent_url + path), headers={"X-Request-ID": request_id})
        return self._result(response, request_id)

    def _result(self, response: httpx.Response, request_id: str) -> CallResult:
        try:
            body = response.json()
        except ValueError:
            body = None
        return CallResult(response.status_code, body, parse_challenge(response.headers.get("www-authenticate")),
                          self.event_of(request_id), response)

    def execute(self, capability: str, arguments: dict[str, Any] | None = None, *, token: str | None = None,
                path: str = "/") -> CallResult:
        """The agent's ``execute`` method for one capability (as ``call``)."""
        params: dict[str, Any] = {"capability": capability}
        if arguments is not None:
            params["arguments"] = arguments
        return self.call("execute", params, token=token, path=path)

    def event_of(self, request_id: str) -> AuditEvent | None:
        """The audit event recorded for the request that carried ``X-Request-ID: request_id`` (latest if several)."""
        return next((e for e in reversed(self.audit.events()) if e.request_id == request_id), None)

    def run(self, coroutine: Awaitable[Any], timeout: float = 60) -> Any:
        """Run a coroutine to its end from synchronous code or a notebook cell (Jupyter's loop is busy with the
        cell), on this lab's own event loop: an anyio blocking portal, started on first use and stopped by
        ``close()``, so validators keep their HTTP clients and caches between cells. Raises what it raises,
        ``TimeoutError`` after ``timeout`` seconds."""
        portal = self._portal()

        async def bounded() -> Any:
            import anyio

            with anyio.fail_after(timeout):
                return await coroutine

        return portal.call(bounded)

    def own(self, thing: _T) -> _T:
        """Have ``close()`` await ``thing.aclose()`` on this lab's loop (a validator built for ``run``); ``thing``."""
        self._owned.append(thing)
        return thing

    def _portal(self) -> BlockingPortal:
        if self._portal_stack is None:
            from anyio.from_thread import start_blocking_portal

            stack = ExitStack()
            self._blocking_portal = stack.enter_context(start_blocking_portal(name="labkit-lab"))
            self._portal_stack = stack
        assert self._blocking_portal is not None  # noqa: S101 - set with the stack
        return self._blocking_portal
