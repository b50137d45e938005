"""Benchmark server: the lab provider and the sample agent, protected or (baseline only) unprotected.

Run by benchmarks/http_load.py in its own process (pinned to one core when taskset exists). Prints
``provider: URL`` and ``agent: URL``, then serves until stdin closes. The unprotected variant exists only
here, as the no-auth baseline: the product has no switch that turns the guard off.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from labkit.auth import Principal
from labkit.guard import GuardContext
from labkit.guard.jsonrpc import parse_call, read_body, replay
from labkit.lab import Lab
from labkit.scopes import EffectiveScopes
from sample_agent.policy import LabUser


async def trivial(scope: Any, receive: Any, send: Any) -> None:
    """The app behind the guard when only the guard is measured: reads the body, answers ``{}``."""
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b"{}"})


def rpc_driver(lab: Lab, token: str | Sequence[str]) -> Callable[[Any, int], Awaitable[None]]:
    """``drive(app, count)``: ``count`` in-process ``POST /`` ``capabilities`` calls with ``token`` to ``app``
    (a list of tokens: one after the other, again from the first when ``count`` is longer)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "capabilities"}).encode()
    host, port = lab.agent_url.split("//")[1].split(":")
    headers = [(b"host", f"{host}:{port}".encode()), (b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode())]
    authorizations = [f"Bearer {t}".encode() for t in ([token] if isinstance(token, str) else token)]

    async def drive(app: Any, count: int) -> None:
        for i in range(count):
            messages = [{"type": "http.request", "body": body, "more_body": False}]

            async def receive(messages: list[dict[str, Any]] = messages) -> Any:
                return messages.pop() if messages else {"type": "http.disconnect"}

            async def send(message: Any) -> None:
                pass

            scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                     "scheme": "http", "path": "/", "raw_path": b"/", "query_string": b"", "root_path": "",
                     "server": (host, int(port)), "client": ("127.0.0.1", 5000),
                     "headers": [*headers, (b"authorization", authorizations[i % len(authorizations)])]}
            await app(scope, receive, send)

    return drive


class Unprotected:
    """Baseline only: the agent's app with a fixed all-scopes user and no token checks.

    It still reads and parses JSON-RPC bodies once and hands the call on, as the guard does: the app relies on
    that parse (it does not parse again), so the baseline pays for it too and only the auth work differs.
    """

    def __init__(self, app):  # type: ignore[no-untyped-def]
        self.app = app
        principal = Principal(subject="baseline", scopes=frozenset({"*"}), fingerprint="baseline")
        self.user = LabUser(principal, EffectiveScopes({"*"}, wildcard=True))

    async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] == "http":
            context = GuardContext(tenant=None, principal=self.user.principal)
            scope = {**scope, "user": self.user, "labkit": context}
            if scope["method"] == "POST":
                body = await read_body(receive)
                context.rpc = parse_call(body)
                receive = replay(body, receive)
        await self.app(scope, receive, send)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["protected", "unprotected"], default="protected")
    args = parser.parse_args()
    from labkit.servers import freeze_start_up  # here: profiling.py --against imports this file with older labkits
    # unprotected: the guard's inner Starlette app, served as it is
    lab = Lab(serve=(lambda app: Unprotected(app.starlette)) if args.mode == "unprotected" else None)
    with lab:
        print(f"provider: {lab.provider_url}", flush=True)
        freeze_start_up()  # as `labkit serve` does, in both modes
        print(f"agent: {lab.agent_url}", flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
