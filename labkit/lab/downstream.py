"""``DownstreamAgent``: a second sample agent with its own audience, which the first calls on its callers' behalf.

``Lab(downstream=True)`` starts it beside the agent and wires the agent's ``external_api`` plugin to it
(``delegation.downstream``): ``write_operation`` then exchanges the caller's token at the lab provider
(RFC 8693, as the confidential client ``lab-agent``) and calls ``execute`` here with the new token, whose
``sub`` is still the user and whose ``act`` names ``lab-agent``. A token for the first agent is refused here
(its audience is ``api://oauth2-lab-agent``, this agent's is ``api://oauth2-lab-downstream``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from ..algorithms import PROVIDER_ALGORITHMS
from ..audit import AuditLog
from ..config import PluginSpec, SecurityConfig, validate_security_config
from ..config.delegation import DelegationSpec, DownstreamSpec
from ..provider.app import DOWNSTREAM_AUDIENCE
from ..servers import ServerThread

__all__ = [
    "AGENT_CLIENT", "DEFAULT_RULE", "DOWNSTREAM_AUDIENCE", "DownstreamAgent", "downstream_config", "wire_downstream"
]

AGENT_CLIENT = ("lab-agent", "lab-agent-secret")  # the agent's own confidential client (PUBLIC, LAB-ONLY secret)
DEFAULT_RULE: dict[str, Any] = {"allowed_actors": ["lab-agent"]}  # who may act for a user here


def downstream_config(provider_url: str, delegation: Mapping[str, Any] | None = None, *,
                      check_audience: bool = True) -> dict[str, Any]:
    """The downstream agent's ``agentup.yml`` as a mapping: its own audience, and ``delegation`` on external_api.
    ``check_audience=False`` leaves ``jwt_audience`` out (UNSAFE, lesson 17: any token of the issuer passes)."""
    oauth2: dict[str, Any] = {"validation_strategy": "jwt", "jwks_url": f"{provider_url}/jwks",
                              "jwt_algorithms": list(PROVIDER_ALGORITHMS), "jwt_issuer": provider_url}
    if check_audience:
        oauth2["jwt_audience"] = DOWNSTREAM_AUDIENCE
    return {
        "security": {
            "enabled": True, "type": "oauth2", "oauth2": oauth2,
            "scope_hierarchy": {"admin": ["*"], "api:write": ["api:read"], "api:read": []},
        },
        "plugins": [{"plugin_id": "external_api", "plugin_type": "network", "required_scopes": ["api:write"],
                     "delegation": dict(DEFAULT_RULE if delegation is None else delegation)}],
    }


def wire_downstream(cfg: SecurityConfig, spec: DownstreamSpec) -> SecurityConfig:
    """``cfg`` with the ``external_api`` plugin delegating to ``spec`` (kept when it already names a downstream)."""
    from sample_agent.plugins import plugin_key

    plugins = list(cfg.plugins)
    for i, plugin in enumerate(plugins):
        if plugin_key(plugin.plugin_id) == "external_api":
            rule = plugin.delegation or DelegationSpec()
            if rule.downstream is None:
                plugins[i] = plugin.model_copy(update={"delegation": rule.model_copy(update={"downstream": spec})})
            break
    else:
        plugins.append(PluginSpec(plugin_id="external_api", plugin_type="network", required_scopes=["api:write"],
                                  delegation=DelegationSpec(downstream=spec)))
    return cfg.model_copy(update={"plugins": tuple(plugins)})


class DownstreamAgent:
    """The downstream sample agent on its own loopback port, with its own audit log.

    ``delegation``: its ``external_api`` plugin's rule (default: only ``lab-agent`` may act for a user);
    ``check_audience=False``: no ``jwt_audience`` (UNSAFE: lesson 17's upstream before its fix);
    ``capability``: serve privately (``labkit.capability``).
    Raises ``ConfigError`` (with paths such as ``plugins[0].delegation.max_delegation_depth``) for a bad rule.
    """

    def __init__(self, provider_url: str, *, clock: Callable[[], float] | None = None, host: str = "127.0.0.1",
                 delegation: Mapping[str, Any] | None = None, check_audience: bool = True,
                 capability: str | None = None) -> None:
        self.provider_url = provider_url
        self._clock = clock
        self._host = host
        self.audit = AuditLog(redact=(capability,) if capability else ())
        self._capability = capability
        self._server = ServerThread(host=host, name="downstream", capability=capability)
        self.url = self._server.url
        self.check_audience = check_audience
        self.config = self._build(delegation)
        self._server.app = self.app

    def _build(self, delegation: Mapping[str, Any] | None) -> SecurityConfig:
        from sample_agent import create_app

        raw = downstream_config(self.provider_url, delegation, check_audience=self.check_audience)
        config = validate_security_config(raw)  # a bad rule: ConfigError before anything changes
        self.raw = raw
        self.app = create_app(config, public_url=self.url, clock=self._clock, audit=self.audit)
        self.agent = self.app.agent
        return config

    @property
    def rule(self) -> dict[str, Any]:
        """The ``external_api`` plugin's ``delegation`` rule as configured."""
        return copy.deepcopy(self.raw["plugins"][0]["delegation"])

    def yaml(self) -> str:
        """The configuration as ``agentup.yml`` text (the provider's URL as running)."""
        return yaml.safe_dump(self.raw, sort_keys=False)

    def spec(self, *, scope: str | None = None) -> DownstreamSpec:
        """How the first agent reaches this one: URL, audience, the provider's token endpoint, ``lab-agent``."""
        return DownstreamSpec(url=self.url, audience=DOWNSTREAM_AUDIENCE, token_endpoint=f"{self.provider_url}/token",
                              client_id=AGENT_CLIENT[0], client_secret=AGENT_CLIENT[1], scope=scope)

    def servers(self) -> tuple[ServerThread, ...]:
        """Its one server."""
        return (self._server,)

    def start(self) -> None:
        """Start serving."""
        self._server.start()

    def reload(self, delegation: Mapping[str, Any], *, check_audience: bool | None = None) -> SecurityConfig:
        """Restart on the same URL with another ``delegation`` rule on ``external_api`` (and ``check_audience``
        when given); raises ``ConfigError`` (the running agent is kept) or ``RuntimeError``."""
        kept = self.check_audience
        if check_audience is not None:
            self.check_audience = check_audience
        try:
            config = self._build(delegation)
        except BaseException:
            self.check_audience = kept
            raise
        port = self._server.port
        self._server.stop()
        self._server = ServerThread(self.app, host=self._host, port=port, name="downstream",
                                    capability=self._capability)
        self._server.start()
        self.config = config
        return config

    def close(self) -> None:
        """Stop serving and close the audit log."""
        self._server.stop()
        self.audit.close()
