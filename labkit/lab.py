"""``Lab``: the provider and the sample agent on free loopback ports, ready for lessons and tests.

    with Lab() as lab:
        token = lab.token(scopes=["api:read"])      # through the provider's real token endpoint
        lab.client(token).post("/", json={...})      # httpx client bound to the agent
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from .audit import AuditLog
from .config import SecurityConfig, load_config, validate_security_config
from .observability import LogCapture
from .provider import MockProvider
from .provider.models import Client
from .servers import ServerThread
from .webhook import WebhookReceiver

if TYPE_CHECKING:
    from .downstream import DownstreamAgent
    from .vulnerable import VulnerableAgent

__all__ = ["Lab"]

PERSONA_CLIENTS = {
    "default": ("lab-client", "lab-client-secret"),
    "limited": ("lab-limited", "lab-limited-secret"),
    "opaque": ("lab-opaque", "lab-opaque-secret"),
    "google": ("google-client", "google-secret"),
    "auth0": ("auth0-client", "auth0-secret"),
    "azure": ("azure-client", "azure-secret"),
    "okta": ("okta-client", "okta-secret"),
    "keycloak": ("keycloak-client", "keycloak-secret"),
    "github": ("Iv1.lab-github-app", "lab-github-secret"),
}


class Lab:
    """Provider + agent (uvicorn in threads on 127.0.0.1, ports bound first), wired together.

    ``config``: an ``agentup.yml`` path, a mapping or a ``SecurityConfig`` for the agent; by default the
    lab's ``sample_agent/agentup.yml``. ``${LAB_PROVIDER_URL}`` in it is the running provider's URL.
    ``host``/``public_url``: bind address and the agent's URL as advertised behind a proxy; ``capture_logs``:
    keep the ``labkit`` loggers' records in ``lab.logs`` while running instead of the root logger's handlers.
    ``vulnerable``: weakness names (or ``True`` for all) to start ``lab.vulnerable``, a separate UNSAFE agent
    on its own port for lesson 10 (``labkit.vulnerable``); the real agent is never changed by it.
    ``downstream``: start ``lab.downstream``, a second agent with its own audience (``labkit.downstream``), and
    wire the agent's ``external_api`` plugin to call it on its callers' behalf by token exchange (RFC 8693).
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
    ) -> None:
        from sample_agent import create_app, default_config_path

        weaknesses: set[str] = set()
        if vulnerable:
            from .vulnerable.app import weakness_names

            weaknesses = weakness_names(vulnerable)  # a bad name is refused before any socket is bound
        self.provider = MockProvider(clock=clock, tenants=tenants)
        self.webhooks = WebhookReceiver(clock=clock or time.time)
        self._webhook_server = ServerThread(self.webhooks.app, name="webhooks")
        self.webhooks.base_url = self._webhook_server.url
        self._provider_server = ServerThread(self.provider.app, host=host, port=provider_port, name="provider")
        self.provider.base_url = self._provider_server.url
        self.provider_url = self._provider_server.url
        self.downstream: DownstreamAgent | None = None
        env = {**os.environ, "LAB_PROVIDER_URL": self.provider_url,
               "LAB_WEBHOOK_HOSTPORT": f"127.0.0.1:{self._webhook_server.port}"}
        try:
            if isinstance(config, SecurityConfig):
                self.config = config
            elif isinstance(config, dict):
                self.config = validate_security_config(config, env=env)
            else:
                self.config = load_config(Path(config) if config else default_config_path(), env=env)
            if downstream:
                from .downstream import DownstreamAgent

                self.downstream = DownstreamAgent(self.provider_url, clock=clock, host=host)
                self.config = self._wired(self.config)
            self.audit = AuditLog(self.config.audit.capacity, audit_path or self.config.audit.path)
        except BaseException:  # a bad config or audit file: release the bound sockets before saying so
            self._webhook_server.stop()
            self._provider_server.stop()
            if self.downstream is not None:
                self.downstream.close()
            raise
        self._clock = clock
        # The agent's URL is known once its socket is bound; the app is created with it.
        self._agent_server = ServerThread(host=host, port=agent_port, name="agent")
        self.agent_url = self._agent_server.url
        self.public_url = public_url.rstrip("/") if public_url else self.agent_url  # behind a proxy: its URL
        self.app = create_app(self.config, public_url=self.public_url, clock=clock, audit=self.audit)
        self._agent_server.app = self.app
        self.agent = self.app.agent
        self.webhooks.trust(self.agent_url)
        self._clients: list[httpx.Client] = []
        self._host = host
        # the labkit.* operator logs, kept here while the lab runs (lessons stay deterministic); None: left alone
        self.logs = LogCapture() if capture_logs else None
        self._started = False
        self.vulnerable: VulnerableAgent | None = None
        if weaknesses:
            from .vulnerable import VulnerableAgent

            self.vulnerable = VulnerableAgent(weaknesses, self.config.oauth2, self.config.scope_hierarchy, clock=clock)

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
        """Start both servers (well under a second here)."""
        started: list[ServerThread] = []
        try:
            for server in (self._provider_server, self._webhook_server, self._agent_server):
                server.start()
                started.append(server)
            if self.vulnerable is not None:
                self.vulnerable.start()
            if self.downstream is not None:
                self.downstream.start()
        except BaseException:
            for server in started:
                server.stop()
            raise
        if self.logs is not None:
            self.logs.start()
        self._started = True
        return self

    @property
    def running(self) -> bool:
        """Whether the servers are up (started and not closed)."""
        return self._started

    def reload(self, config: str | os.PathLike[str] | dict[str, Any] | SecurityConfig) -> SecurityConfig:
        """Restart the agent with another configuration, on the same URL. Raises ``ConfigError`` (the old
        agent keeps running) or ``RuntimeError``."""
        from sample_agent import create_app

        env = {**os.environ, "LAB_PROVIDER_URL": self.provider_url,
               "LAB_WEBHOOK_HOSTPORT": f"127.0.0.1:{self._webhook_server.port}"}
        if isinstance(config, SecurityConfig):
            new_config = config
        elif isinstance(config, dict):
            new_config = validate_security_config(config, env=env)
        else:
            new_config = load_config(Path(config), env=env)
        new_config = self._wired(new_config)
        app = create_app(new_config, public_url=self.public_url, clock=self._clock, audit=self.audit)
        port = self._agent_server.port
        self._agent_server.stop()
        self._agent_server = ServerThread(app, host=self._host, port=port, name="agent")
        self._agent_server.start()
        self.config, self.app = new_config, app
        self.agent = app.agent
        self.webhooks.trust(self.agent_url)
        return new_config

    def close(self) -> None:
        """Stop both servers and close every client this lab made (no thread or socket left)."""
        for client in self._clients:
            client.close()
        self._clients.clear()
        if self.vulnerable is not None:
            self.vulnerable.close()
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

    # -- tokens and clients -------------------------------------------------------------------
    def token(
        self,
        scopes: Sequence[str] | str = ("api:read",),
        *,
        persona: str = "default",
        lifetime: int | None = None,
        tenant: str | None = None,
        resource: str | None = None,
    ) -> str:
        """An access token from the provider's real token endpoint (client credentials).

        ``persona``: default, limited, opaque, google, auth0, azure, okta, keycloak or github.
        Raises ``ValueError`` for an unknown persona, ``RuntimeError`` when the provider refuses.
        """
        if persona not in PERSONA_CLIENTS:
            raise ValueError(f"unknown persona {persona!r}; use one of {', '.join(PERSONA_CLIENTS)}")
        client_id, secret = PERSONA_CLIENTS[persona]
        if lifetime is not None:
            client_id, secret = self._client_with_lifetime(client_id, lifetime, tenant)
        scope = scopes if isinstance(scopes, str) else " ".join(scopes)
        data = {"grant_type": "client_credentials", "scope": scope}
        if resource:
            data["resource"] = resource
        base = f"{self.provider_url}/{tenant}" if tenant else self.provider_url
        response = httpx.post(f"{base}/token", data=data, auth=(client_id, secret), timeout=10)
        if response.status_code != 200:
            raise RuntimeError(f"token endpoint answered {response.status_code}: {response.json().get('error')}")
        return str(response.json()["access_token"])

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
            path: str = "/", a2a_version: str | None = None) -> httpx.Response:
        """One JSON-RPC call to the agent (A2A at ``/``, MCP at ``/mcp``)."""
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        if a2a_version:
            headers["A2A-Version"] = a2a_version
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": "lab-1", "method": method}
        if params is not None:
            body["params"] = params
        return self.client(token).post(path, json=body, headers=headers)

