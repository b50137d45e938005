"""The guard: bearer tokens on every route but the ones an app declares public, one decision per request.

- ``rfc6750``: the strict bearer parser, challenges and the one Reason -> HTTP table;
- ``jsonrpc``: bounded body read, one strict parse shared with the app, replay;
- ``policy``: ``Requirement``, ``Capability``, ``EndpointPolicy`` (the app supplies its method table), ``Endpoint``;
- ``routing``: the route the app will run, found with the app's own router;
- ``build``: a ``Gate`` from a ``SecurityConfig`` (``gate_for``);
- ``dpop``: RFC 9449 at the resource server (``DPoPPolicy``: proof, binding, replay, nonces; ``Presentation``);
- ``decision``: the ``Decision`` every integration answers from, and ``judge`` (a requirement's scopes, delegation);
- ``gate``: ``Gate`` (authenticate, judge, admit), the one path every front door takes;
- ``asgi``: ``OAuth2Guard``, the ASGI middleware (deny by default).
"""

from __future__ import annotations

from .asgi import GuardContext, OAuth2Guard
from .build import gate_for
from .decision import Decision, GuardUser, principal_key
from .gate import Admit, Gate
from .jsonrpc import RpcCall
from .policy import Capability, Effect, Endpoint, EndpointPolicy, MethodRule, PluginScopes, Requirement
from .rfc6750 import bearer_token

# the face: what an app or an integration builds a guard from, and the types its callbacks see; the rest
# (challenges, the DPoP policy, the JSON-RPC reader, routing) is reached through its module
__all__ = [
    "Admit",
    "Capability",
    "Decision",
    "Effect",
    "Endpoint",
    "EndpointPolicy",
    "Gate",
    "GuardContext",
    "GuardUser",
    "MethodRule",
    "OAuth2Guard",
    "PluginScopes",
    "Requirement",
    "RpcCall",
    "bearer_token",
    "gate_for",
    "principal_key",
]
