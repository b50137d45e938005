"""Where a challenge starts: what the lab held at ``start()``, so that a check counts only what came after it.

A check never credits what the lesson's own cells did before the challenge started: audit events, tokens the
provider issued and clients it registered before the mark are the lesson's, not the learner's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..audit import AuditEvent, AuditLog
    from ..lab.runner import Lab
    from ..provider.models import Client, TokenRecord

__all__ = ["Mark"]


def _total(log: AuditLog | None) -> int:
    return log.total if log is not None else 0


@dataclass(frozen=True)
class Mark:
    """The lab's state when a challenge started: audit totals (agent, vulnerable agent, downstream agent), the
    default tenant's token hashes and client ids, and the lab clock's time."""

    audit_total: int
    vulnerable_total: int
    downstream_total: int
    tokens: frozenset[str]
    clients: frozenset[str]
    at: float
    flow_total: int = 0  # lesson 18's vulnerable flow log (``Lab(vulnerable_as=...)``)

    @classmethod
    def take(cls, lab: Lab) -> Mark:
        """The mark of ``lab`` now."""
        store = lab.provider.server(None).store
        with store.lock:
            tokens, clients = frozenset(store.tokens), frozenset(store.clients)
        vulnerable = lab.vulnerable.audit if lab.vulnerable is not None else None
        downstream = lab.downstream.audit if lab.downstream is not None else None
        flow = getattr(lab, "flow", None)
        return cls(_total(lab.audit), _total(vulnerable), _total(downstream), tokens, clients, lab.clock(),
                   flow.log.total if flow is not None else 0)

    def events(self, lab: Lab) -> list[AuditEvent]:
        """The agent's audit events recorded since the mark, oldest first."""
        return lab.audit.since(self.audit_total)

    def vulnerable_events(self, lab: Lab) -> list[AuditEvent]:
        """The vulnerable agent's audit events since the mark (none without ``Lab(vulnerable=...)``)."""
        return lab.vulnerable.audit.since(self.vulnerable_total) if lab.vulnerable is not None else []

    def downstream_events(self, lab: Lab) -> list[AuditEvent]:
        """The downstream agent's audit events since the mark (none without ``Lab(downstream=True)``)."""
        return lab.downstream.audit.since(self.downstream_total) if lab.downstream is not None else []

    def new_tokens(self, lab: Lab) -> dict[str, TokenRecord]:
        """The default tenant's token records (by hash) the provider issued since the mark."""
        store = lab.provider.server(None).store
        with store.lock:
            return {h: r for h, r in store.tokens.items() if h not in self.tokens}

    def new_clients(self, lab: Lab) -> dict[str, Client]:
        """The default tenant's clients registered since the mark."""
        store = lab.provider.server(None).store
        with store.lock:
            return {c: v for c, v in store.clients.items() if c not in self.clients}
