"""The guard's decision in other frameworks: thin layers over ``labkit.guard.Gate`` and ``Decision``.

- ``labkit.integrations.fastapi``: ``BearerGuard``, a FastAPI dependency for ``Security(guard, scopes=[...])``
  (needs the ``fastapi`` extra);
- ``labkit.integrations.starlette``: ``BearerBackend`` for ``AuthenticationMiddleware`` and ``requires(...)``
  answering with RFC 6750 challenges;
- ``labkit.integrations.mcp``: ``GateTokenVerifier``, an mcp SDK ``TokenVerifier``, and ``DPoPMiddleware``
  around the SDK's app for DPoP (RFC 9449);
- ``labkit.integrations.metadata``: RFC 9728 protected-resource metadata from the same config (``metadata_routes``,
  ``metadata_url``) for FastAPI and Starlette apps.

Each answers a refusal with the status and ``WWW-Authenticate`` challenge of the one table in
``labkit.guard.rfc6750``, as the ASGI guard does, and holds DPoP-bound tokens to their proofs with the gate's
``DPoPPolicy`` (``public_url``: the origin the proofs' ``htu`` names, as ``OAuth2Guard`` takes it). This
package imports neither FastAPI nor mcp; import the submodule you use.
"""

from __future__ import annotations

from ._common import closing, gate_for

__all__ = ["closing", "gate_for"]
