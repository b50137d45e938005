"""``plugins[].delegation``: who may act for a user through a plugin (RFC 8693 §4.1), and where it acts onward.

::

    plugins:
      - plugin_id: external_api
        delegation:
          max_delegation_depth: 1        # 0 refuses delegated tokens; absent: any chain up to 8 actors
          allowed_actors: ["lab-agent"]  # who may act now (the current actor); absent: anyone
          required: false                # true: only delegated tokens
          downstream:                    # call another agent on the caller's behalf, by token exchange
            url: "http://127.0.0.1:8300"
            audience: "api://oauth2-lab-downstream"
            token_endpoint: "${LAB_PROVIDER_URL}/token"
            client_id: "lab-agent"
            client_secret: "${LAB_AGENT_SECRET}"
            scope: "api:write"           # narrowing: never more than the caller's token holds

Checks beyond the models' types (URLs over TLS but on loopback, a rule that refuses everything) sit with the
plugin builder (``plugins``), which records them at these paths.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MAX_ACTORS", "DelegationSpec", "DownstreamSpec"]

MAX_ACTORS = 8  # the longest act chain the lab reads (a longer one is a malformed token)
_STRICT = ConfigDict(extra="forbid", frozen=True, strict=True, hide_input_in_errors=True)


class DownstreamSpec(BaseModel):
    """``delegation.downstream``: the agent a plugin calls for its caller, with an exchanged token (RFC 8693)."""

    model_config = _STRICT

    url: str = Field(min_length=1)
    audience: str = Field(min_length=1)  # sent as RFC 8707 resource: the downstream's own audience
    token_endpoint: str = Field(min_length=1)
    client_id: str = Field(min_length=1)  # this agent's own confidential client at the provider
    client_secret: str | None = Field(default=None, repr=False)
    scope: str | None = None  # space-delimited; absent: what the caller's token holds and the client may ask
    capability: str = Field(default="write_operation", min_length=1)
    timeout: float = Field(default=5.0, gt=0, le=60)


class DelegationSpec(BaseModel):
    """``plugins[].delegation``: the rule for delegated callers and, optionally, the downstream it calls."""

    model_config = _STRICT

    max_delegation_depth: int | None = Field(default=None, ge=0, le=MAX_ACTORS)
    allowed_actors: list[str] | None = None
    required: bool = False
    downstream: DownstreamSpec | None = None
