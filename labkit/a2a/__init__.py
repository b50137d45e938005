"""A2A at the edge: the signed push sender (``labkit.a2a.push``) and the webhook receiver (``labkit.a2a.webhook``).

The package imports neither on its own: the sender needs the ``agent`` extra (a2a-sdk), the receiver only
Starlette. No core module (config, scopes, errors, auth, guard, middleware, audit) imports this package.
"""

from __future__ import annotations

__all__: list[str] = []
