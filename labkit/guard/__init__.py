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
from .build import accepting, gate_for
from .decision import Decision, GuardUser, principal_key
from .dpop import DPoPChallenge, DPoPPolicy, Presentation
from .gate import Admit, Gate, TenantAuth
from .jsonrpc import BodyError, RpcCall, parse_call, parse_json
from .policy import Capability, Effect, Endpoint, EndpointPolicy, MethodRule, PluginScopes, Requirement
from .rfc6750 import OUTCOMES, Outcome, bearer_token, challenge, credentials
from .routing import Resolved, resolve

__all__ = [
    "OUTCOMES",
    "Admit",
    "BodyError",
    "Capability",
    "DPoPChallenge",
    "DPoPPolicy",
    "Decision",
    "Effect",
    "Endpoint",
    "EndpointPolicy",
    "Gate",
    "GuardContext",
    "GuardUser",
    "MethodRule",
    "OAuth2Guard",
    "Outcome",
    "PluginScopes",
    "Presentation",
    "Requirement",
    "Resolved",
    "RpcCall",
    "TenantAuth",
    "accepting",
    "bearer_token",
    "challenge",
    "credentials",
    "gate_for",
    "parse_call",
    "parse_json",
    "principal_key",
    "resolve",
]
