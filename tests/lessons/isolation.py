"""Learner B against learner A's private lab: every route of every server, found from the apps themselves.

Used in process (two ``Lab``s) and as two learners' processes (``python -m tests.lessons.isolation a|b``). Learner B
knows what anyone on the machine knows: A's ports (``ss -ltn``), labkit's code (so every route of every app, read
from an identical lab of B's own), B's own lab secret, and the lab's public test clients. B does not know A's secret.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from labkit.lab import Lab

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
CATCH_ALL = ("/", "/admin", "/admin/status", "/t/acme/", "/.well-known/oauth-protected-resource", "/mcp")
_PARAM = re.compile(r"\{([^}:]+)(?::([^}]+))?\}")
_SAMPLES = {"int": "1", "float": "1", "path": "acme/x", "uuid": "00000000-0000-0000-0000-000000000000"}
LAB_OPTIONS: dict[str, Any] = {"vulnerable": True, "proxy": True, "vulnerable_as": True, "capture_logs": False}
# the well-known doors of an OAuth lab, with what B would send through them
ATTACKS = (
    ("GET", "/authorize?response_type=code&client_id=lab-web&login_hint=alice&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb"
            "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&scope=api%3Aread"),
    ("POST", "/token"), ("POST", "/admin/mint"), ("POST", "/register"), ("GET", "/hooks/x/received"),
    ("POST", "/"), ("POST", "/mcp"), ("GET", "/.well-known/oauth-authorization-server"), ("GET", "/jwks"),
)


def _fill(template: str) -> str:
    """A route's path with a sample value in each parameter (a tenant name where one fits)."""
    return _PARAM.sub(lambda m: _SAMPLES.get(m.group(2) or "", "acme"), template)


def _walk(routes: Iterable[BaseRoute], prefix: str) -> Iterator[tuple[str, str]]:
    for route in routes:
        if isinstance(route, Route):
            path = prefix + _fill(route.path)
            yield from ((m, path) for m in sorted(route.methods or METHODS) if m != "HEAD")
        elif isinstance(route, WebSocketRoute):
            yield "GET", prefix + _fill(route.path)
        elif isinstance(route, Mount):
            inner = getattr(route, "routes", None)
            if inner:
                yield from _walk(inner, prefix + _fill(route.path))
            else:  # a mounted ASGI app: its own routing is unknown, every method at its root
                yield from ((m, prefix + _fill(route.path) + end) for m in METHODS for end in ("", "/"))
        else:
            path = getattr(route, "path", None)
            yield from ((m, prefix + _fill(path)) for m in METHODS) if isinstance(path, str) else ()


def app_routes(app: Any) -> list[tuple[str, str]]:
    """Every (method, path) an app routes (a catch-all app, with no route table: the paths lessons call)."""
    for holder in (app, getattr(app, "starlette", None)):
        routes = getattr(holder, "routes", None)
        if routes:
            return sorted(set(_walk(routes, "")))
    return [(m, p) for p in CATCH_ALL for m in METHODS]


def lab_routes(lab: Lab) -> dict[str, list[tuple[str, str]]]:
    """Each server's routes, by server name."""
    return {server.name: app_routes(server.app) for server in lab.servers()}


def attempts(method: str, path: str, guesses: Iterable[str]) -> Iterator[tuple[str, str]]:
    """The paths B tries for one route: as is, under each guessed prefix, and a well-known path with the guess
    where RFC 8414 §3.1 / RFC 9728 §3.1 would put it."""
    yield method, path
    for guess in guesses:
        yield method, f"/{guess}{path}"
        parts = path.split("/")
        if path.startswith("/.well-known/") and len(parts) >= 3:
            yield method, "/".join([*parts[:3], guess, *parts[3:]])


def probe(ports: dict[str, int], routes: dict[str, list[tuple[str, str]]], guesses: list[str]) -> list[list[Any]]:
    """Every attempt at every server: ``[server, method, path, status, body]`` (bodies cut to 64 bytes), with the
    guesses shown as ``<guess>``."""
    answers: list[list[Any]] = []
    body = {"grant_type": "client_credentials", "client_id": "lab-client", "client_secret": "x", "scope": "admin"}
    with httpx.Client(timeout=30, trust_env=False) as http:
        for name, port in ports.items():
            tried = [*routes.get(name, []), *ATTACKS]
            for method, path in sorted({a for m, p in tried for a in attempts(m, p, guesses)}):
                response = http.request(method, httpx.URL(f"http://127.0.0.1:{port}{path}"), data=body,
                                        headers={"X-Lab-Admin": "guess", "Authorization": "Bearer x"})
                shown = path
                for guess in guesses:
                    shown = shown.replace(guess, "<guess>")
                answers.append([name, method, shown, response.status_code, response.content[:64].decode("latin-1")])
    return answers


class Counting:
    """Counts the requests an app is called with (the gate's inner side: a handler could run for each)."""

    def __init__(self, app: Any) -> None:
        self.app, self.calls = app, 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            self.calls += 1
        await self.app(scope, receive, send)


def zero(counters: dict[str, Counting]) -> dict[str, Counting]:
    """Forget the calls a lab made of itself while starting (lesson 18's victim logs in at its AS)."""
    for counter in counters.values():
        counter.calls = 0
    return counters


def instrument(lab: Lab) -> dict[str, Counting]:
    """Put a counter between each server's gate and its app (before ``start()``); the counters by server name."""
    counters = {}
    for server in lab.servers():
        server.app = counters.setdefault(server.name, Counting(server.app))
    return counters


def state(lab: Lab) -> dict[str, Any]:
    """What B could mint, read or change in A's lab, as counts: tokens and clients per tenant, each audit log,
    webhook deliveries, the attacker site's fetches, the proxy's forwards, the vulnerable agent's weaknesses."""
    seen: dict[str, Any] = {}
    for tenant in (None, *lab.provider.tenants):
        store = lab.provider.server(tenant).store
        with store.lock:
            seen[f"tokens:{tenant}"], seen[f"clients:{tenant}"] = len(store.tokens), len(store.clients)
    seen["audit"] = lab.audit.total
    seen["webhooks"] = len(lab.webhooks.notifications)
    if lab.vulnerable is not None:
        seen["vulnerable"] = lab.vulnerable.audit.total
        seen["weaknesses"] = sorted(lab.vulnerable.weaknesses)
        seen["attacker_fetches"] = lab.vulnerable.attacker.fetches
    if lab.downstream is not None:
        seen["downstream"] = lab.downstream.audit.total
    if lab.proxy is not None:
        seen["proxy"] = len(lab.proxy.forwarded)
    if lab.flow is not None:  # lesson 18's flow: its log of wins and refusals, the codes and tokens its AS issued
        seen["flow"] = (lab.flow.log.total, len(lab.flow.as_.codes), len(lab.flow.as_.tokens),
                        len(lab.flow.attacker.received))
    return seen


def ports(lab: Lab) -> dict[str, int]:
    """Each server's port, by name: what ``ss -ltn`` shows anyone on the machine."""
    return {server.name: server.port for server in lab.servers()}


def secret_of(lab: Lab) -> str:
    """The lab's own secret, read from its URL as its own kernel can (the path of ``lab.agent_url``)."""
    return httpx.URL(lab.agent_url).path.strip("/")


def solve_lesson_00(lab: Lab, progress: Path) -> tuple[bool, str]:
    """Lesson 00's challenge through ``lab``: the reference solution's flow, then ``check()``."""
    from labkit.challenges import start
    from labkit.lab.notebooks import NOTEBOOKS_DIR, solution_source

    challenge = start("00", lab, progress=progress)
    exec(compile(solution_source(NOTEBOOKS_DIR, "00"), "solutions/00.py", "exec"),  # noqa: S102
         {"lab": lab, "challenge": challenge})
    verdict = challenge.check()
    return verdict.solved, verdict.message


def _learner_a(progress: Path) -> None:
    """Learner A's kernel: a private lab; prints its ports, waits for "go", then its state, its counters and lesson
    00's verdict (the secret is never printed)."""
    lab = Lab(private=True, **LAB_OPTIONS)
    counters = instrument(lab)
    with lab:
        zero(counters)  # the calls the lab made of itself while starting
        before = state(lab)
        print(json.dumps({"ports": ports(lab)}), flush=True)
        sys.stdin.readline()
        after = state(lab)
        calls = {name: c.calls for name, c in counters.items()}
        solved, message = solve_lesson_00(lab, progress)
        print(json.dumps({"before": before, "after": after, "calls": calls, "solved": solved, "message": message,
                          "private": lab.private}), flush=True)


def _learner_b(victim: dict[str, int]) -> None:
    """Learner B's kernel: B's own private lab (its routes, its secret as a guess), then every route at A's ports."""
    with Lab(private=True, **LAB_OPTIONS) as own:
        routes, guesses = lab_routes(own), [secret_of(own), "x"]
        print(json.dumps({"answers": probe(victim, routes, guesses), "routes": sum(map(len, routes.values()))}),
              flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "a":
        _learner_a(Path(sys.argv[2]))
    else:
        _learner_b(json.loads(sys.argv[2]))
