"""The sample agent's policy: what each A2A method, seed method and MCP tool needs, and who the caller is.

The guard in ``labkit`` knows no protocol; this module hands it the agent's tables:

- A2A v1.0 and v0.3 method names (every method the a2a-sdk dispatches; a test checks none is missing);
- parameters with the effect of a guarded method: a push configuration inside ``SendMessage`` /
  ``message/send`` registers a webhook, so it needs ``push:write`` like ``CreateTaskPushNotificationConfig``;
- the seed's ``capabilities`` and ``execute`` (``execute`` needs the named capability's scopes);
- MCP ``tools/call`` (the tool's capability scopes);
- ``LabUser``: the principal as the mcp SDK's ``AuthenticatedUser`` (sessions are bound to it).
"""

from __future__ import annotations

import functools
from typing import Any

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken

from labkit.auth import Principal
from labkit.guard import Effect, EndpointPolicy, MethodRule, PluginScopes, Requirement, RpcCall, principal_key
from labkit.integrations.mcp import access_token
from labkit.scopes import EffectiveScopes

__all__ = ["A2A_EFFECTS", "A2A_METHOD_SCOPES", "AgentPolicy", "LabUser"]

_SYSTEM_TOOLS = PluginScopes("system_tools")
# None: any valid token; PluginScopes(id): that plugin's scopes.
A2A_METHOD_SCOPES: dict[str, MethodRule] = {
    "SendMessage": _SYSTEM_TOOLS,
    "message/send": _SYSTEM_TOOLS,
    "SendStreamingMessage": _SYSTEM_TOOLS,
    "message/stream": _SYSTEM_TOOLS,
    "GetTask": ("api:read",),
    "tasks/get": ("api:read",),
    "ListTasks": ("api:read",),
    "tasks/list": ("api:read",),
    "CancelTask": ("api:write",),
    "tasks/cancel": ("api:write",),
    "SubscribeToTask": ("api:read",),
    "tasks/resubscribe": ("api:read",),
    "CreateTaskPushNotificationConfig": ("push:write",),
    "tasks/pushNotificationConfig/set": ("push:write",),
    "GetTaskPushNotificationConfig": ("push:read",),
    "tasks/pushNotificationConfig/get": ("push:read",),
    "ListTaskPushNotificationConfigs": ("push:read",),
    "tasks/pushNotificationConfig/list": ("push:read",),
    "DeleteTaskPushNotificationConfig": ("push:write",),
    "tasks/pushNotificationConfig/delete": ("push:write",),
    "GetExtendedAgentCard": None,
    "agent/getAuthenticatedExtendedCard": None,
    "capabilities": None,
}

_PUSH = (
    Effect(("configuration", "pushNotificationConfig"), ("push:write",)),  # v0.3
    Effect(("configuration", "taskPushNotificationConfig"), ("push:write",)),  # v1.0
)
A2A_EFFECTS: dict[str, tuple[Effect, ...]] = {
    method: _PUSH for method in ("SendMessage", "message/send", "SendStreamingMessage", "message/stream")
}


class AgentPolicy(EndpointPolicy):
    """The endpoint policy with the agent's method table, effects, ``execute`` and MCP tools."""

    def __init__(self, capabilities: dict[str, Any], plugin_scopes: dict[str, tuple[str, ...]]) -> None:
        super().__init__(capabilities, plugin_scopes, A2A_METHOD_SCOPES, A2A_EFFECTS)

    def for_a2a(self, method: str | None, params: Any) -> Requirement:
        """The requirement of an A2A JSON-RPC call (unknown methods need a valid token; the SDK refuses them)."""
        if method == "execute":
            capability = params.get("capability") if isinstance(params, dict) else None
            found = self.capabilities.get(capability) if isinstance(capability, str) else None
            if found is None:
                return Requirement(label="execute")
            return self.for_capability(found, f"execute:{found.capability_id}")
        return self.for_method(method, params)

    def for_mcp(self, method: str | None, params: Any) -> Requirement:
        """The requirement of an MCP message: ``tools/call`` needs the tool's capability scopes."""
        if method == "tools/call":
            name = params.get("name") if isinstance(params, dict) else None
            found = self.tools.get(name) if isinstance(name, str) else None
            if found is None:
                return Requirement(label="tools/call")
            return self.for_capability(found, f"tools/call:{name}")
        return Requirement(label=method or "response")

    def a2a_call(self, call: RpcCall, tenant: str | None) -> Requirement:
        """The guard's hook for ``POST /``: the requirement, and a tenant named in the body must be the routed one."""
        requirement = self.for_a2a(call.method, call.params)
        named = call.params.get("tenant") if isinstance(call.params, dict) else None
        if named not in (None, "") and named != (tenant or ""):
            # A2A v1.0 requests carry a tenant field the SDK reads: it must not disagree with the route.
            return Requirement(requirement.scopes, requirement.label, invalid="the body names another tenant")
        return requirement

    def mcp_call(self, call: RpcCall, tenant: str | None) -> Requirement:
        """The guard's hook for ``/mcp``."""
        return self.for_mcp(call.method, call.params)


class LabUser(AuthenticatedUser):
    """The Starlette user of a guarded request: what A2A (owner) and MCP (session binding) see."""

    def __init__(self, principal: Principal, effective: EffectiveScopes) -> None:
        # Not AuthenticatedUser.__init__: the MCP access token is built only when MCP asks for it.
        self.username = principal.client_id or principal.identity
        self.principal = principal
        self.effective = effective
        self.key = principal_key(principal)

    @functools.cached_property
    def access_token(self) -> AccessToken:  # type: ignore[override]
        return access_token(self.principal, self.effective)

    @functools.cached_property
    def scopes(self) -> list[str]:  # type: ignore[override]
        return sorted(self.effective)

    @property
    def display_name(self) -> str:
        return self.key
