"""What each step of the guard costs: the guard in front of a trivial app, with one step at a time stubbed out.

Run: uv run python benchmarks/guard_steps.py; for another revision, ``git archive REV | tar -x -C DIR`` and run
this file with ``PYTHONPATH=DIR``. Each variant replaces one step by a constant answer (the warm token's
authentication, no audit event, the route of ``POST /``, the token without reading the headers); the
difference to the full guard is what that step costs in the flow of a request, which is more than the same
code costs in a tight loop (caches and branch predictors are shared with the rest of the request). Best of 6
interleaved rounds, CPU time. It reaches into private names of ``labkit.guard``: a benchmark, not an API.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from typing import Any

from _server import Unprotected, rpc_driver, trivial

import labkit.guard.asgi as guard_module
from labkit.audit import AuditLog
from labkit.guard.decision import Decision
from labkit.lab import Lab
from labkit.provider import MockProvider

ROUNDS, N = 6, 1500
ROOT_CALL = {"type": "http", "method": "POST", "path": "/", "root_path": ""}


class Patches:
    """Attribute replacements, undone together."""

    def __init__(self) -> None:
        self.saved: list[tuple[Any, str, Any, bool]] = []

    def set(self, owner: Any, name: str, value: Any) -> None:
        own = name in vars(owner)
        self.saved.append((owner, name, vars(owner).get(name), own))
        setattr(owner, name, value)

    def undo(self) -> None:
        for owner, name, value, own in reversed(self.saved):
            if own:
                setattr(owner, name, value)
            else:
                delattr(owner, name)
        self.saved.clear()


def main() -> None:
    with Lab() as lab:
        guard = lab.app.guard
        guard.app = trivial
        gate = guard.gate
        token = MockProvider(base_url=lab.provider_url).mint(["api:read"])
        drive = rpc_driver(lab, token)

        found = asyncio.run(gate.authenticate(token, None))
        patches = Patches()

        async def authenticated(*args: Any, **kwargs: Any) -> Decision:
            return found

        def no_authenticate() -> None:
            if hasattr(gate, "authenticate_now"):  # the guard asks for the answer at once
                patches.set(gate, "authenticate_now", lambda *args, **kwargs: found)
            else:
                patches.set(gate, "authenticate", authenticated)

        def no_audit() -> None:
            patches.set(AuditLog, "record", lambda self, event: event)
            if hasattr(AuditLog, "record_allow"):
                patches.set(AuditLog, "record_allow", lambda self, principal, **context: None)
            if hasattr(AuditLog, "note_allow"):
                patches.set(AuditLog, "note_allow", lambda self, principal, context: None)
            patches.set(Decision, "audit_event", lambda self, **context: None)

        def no_routing() -> None:
            if hasattr(guard_module, "RouteMemo"):
                route = guard_module.RouteMemo(guard.routes).resolve(ROOT_CALL)
                patches.set(guard_module.RouteMemo, "resolve", lambda self, scope: route)
            else:
                route = guard_module.resolve(guard.routes, ROOT_CALL)
                patches.set(guard_module, "resolve", lambda routes, scope: route)

        def no_headers() -> None:
            if hasattr(guard_module, "_Headers"):
                patches.set(guard_module._Headers, "presented", lambda self, scope, url: (token, None))
            else:
                patches.set(guard_module, "presented", lambda scope, url: (token, None))

        variants: dict[str, Callable[[], None]] = {
            "full guard": lambda: None,
            "no authenticate": no_authenticate,
            "no audit event": no_audit,
            "no route resolution": no_routing,
            "no credentials/presentation": no_headers,
        }
        baseline = Unprotected(trivial)
        best = dict.fromkeys([*variants, "no-auth wrapper"], float("inf"))
        for _ in range(ROUNDS):
            for name, setup in variants.items():
                setup()
                asyncio.run(drive(guard, 50))
                gc.collect()
                start = time.process_time()
                asyncio.run(drive(guard, N))
                best[name] = min(best[name], time.process_time() - start)
                patches.undo()
            gc.collect()
            start = time.process_time()
            asyncio.run(drive(baseline, N))
            best["no-auth wrapper"] = min(best["no-auth wrapper"], time.process_time() - start)
        full = best["full guard"]
        print(f"POST / capabilities, one warm token; us CPU per request, best of {ROUNDS} rounds of {N}")
        for name, seconds in best.items():
            step = "" if name in ("full guard", "no-auth wrapper") else f"  step {(full - seconds) / N * 1e6:4.1f}"
            print(f"  {name:<28} {seconds / N * 1e6:6.1f}{step}")


if __name__ == "__main__":
    main()
