"""RFC 8693 §4.1 at the resource: the ``act`` chain of a delegated token, and per-plugin delegation rules.

A token obtained by token exchange keeps the user as ``sub`` and names the party acting for them in ``act``
(``{"sub": "lab-agent"}``); when that party's token was itself delegated the chain nests
(``{"sub": "b", "act": {"sub": "a"}}``: ``b`` acts now, ``a`` acted before). The chain is read strictly: a
malformed ``act`` is a malformed token (``Reason.CLAIMS``, 401), never a half-read chain.

A ``DelegationSpec`` (a plugin's ``delegation:``) decides whether a principal may use the plugin:
``max_delegation_depth`` bounds the chain (0 refuses delegated tokens), ``allowed_actors`` names who may act
now (RFC 8693 §4.1: only the current actor counts for access control; prior actors are informational),
``required`` refuses tokens that are not delegated. A refusal is ``Reason.DELEGATION``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..config.delegation import MAX_ACTORS, DelegationSpec
from ..errors import AuthError, Reason

__all__ = ["MAX_ACTORS", "MAX_ACTOR_LENGTH", "actor_chain", "chain_of", "check_delegation"]

MAX_ACTOR_LENGTH = 255  # characters of one actor's sub


def actor_chain(act: Any) -> tuple[str, ...]:
    """The actors of an ``act`` claim, current actor first (``()`` for None).

    Raises ``AuthError(CLAIMS)`` when ``act`` is not a JSON object with a string ``sub`` at every level, when an
    actor's ``sub`` is empty or longer than 255 characters, or when the chain nests more than 8 actors.
    """
    chain: list[str] = []
    where = "act"
    while act is not None:
        # RFC 8693 §4.1: act is a JSON object whose members identify the actor; the lab requires its sub
        if not isinstance(act, Mapping):
            raise AuthError(Reason.CLAIMS, f"{where} is not a JSON object")
        actor = act.get("sub")
        if not isinstance(actor, str) or not actor or len(actor) > MAX_ACTOR_LENGTH:
            raise AuthError(Reason.CLAIMS, f"{where}.sub is not a non-empty string of at most {MAX_ACTOR_LENGTH}")
        if len(chain) == MAX_ACTORS:
            raise AuthError(Reason.CLAIMS, f"act nests more than {MAX_ACTORS} actors")
        chain.append(actor)
        act = act.get("act")
        where += ".act"
    return tuple(chain)


def check_delegation(actors: tuple[str, ...], rule: DelegationSpec, plugin: str) -> None:
    """Hold ``actors`` (a principal's chain) to ``plugin``'s rule; raises ``AuthError(DELEGATION)``."""
    if not actors:
        if rule.required:
            raise AuthError(Reason.DELEGATION, f"plugin {plugin} accepts delegated tokens only")
        return
    depth = len(actors)
    if rule.max_delegation_depth is not None and depth > rule.max_delegation_depth:
        raise AuthError(Reason.DELEGATION, f"delegation depth {depth} exceeds plugin {plugin}'s "
                                           f"max_delegation_depth {rule.max_delegation_depth}")
    # RFC 8693 §4.1: access control considers the current actor only (the top-level act)
    if rule.allowed_actors is not None and actors[0] not in rule.allowed_actors:
        raise AuthError(Reason.DELEGATION, f"actor {actors[0]!r} is not allowed for plugin {plugin}")


def chain_of(claims: Mapping[str, Any]) -> tuple[str, ...]:
    """The well-formed head of ``claims``' act chain, at most 8 actors (for display; ``actor_chain`` judges)."""
    chain: list[str] = []
    act = claims.get("act")
    while isinstance(act, Mapping) and isinstance(act.get("sub"), str) and len(chain) < MAX_ACTORS:
        chain.append(act["sub"])
        act = act.get("act")
    return tuple(chain)
