"""An outsider's attacks on the client side (issue #16): SSRF through DNS rebinding, CIMD, DPoP, delegation.

Each test is a finding written before its fix: it failed on the code as merged and names the class of bug.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from labkit.a2a.push import AgentSigner, PushPolicy, SignedPushSender
from labkit.config import PushConfig
from labkit.provider.cimd import MAX_FETCHES, CimdError, CimdPolicy, CimdResolver
from labkit.servers import ServerThread
from labkit.tls import LabCA

from ..state.test_state import Stage, close_all, stage, verdict  # noqa: F401 - stage is a fixture

NOW = 1_700_000_000.0
REBOUND = "client.rebind.test"  # a name the attacker's DNS server answers for
PUBLIC = "93.184.215.14"  # what that server answers the check with (a global address, never connected to)
seen: list[str] = []  # the paths the loopback servers were asked for


async def _document(request: Request) -> Response:
    seen.append(request.url.path)
    return JSONResponse({"client_id": str(request.url), "client_name": "rebound", "redirect_uris":
                         ["http://127.0.0.1:9/cb"], "token_endpoint_auth_method": "none"})


in_flight = [0, 0]  # requests being answered now, the most at once


async def _slow(request: Request) -> Response:
    in_flight[0] += 1
    in_flight[1] = max(in_flight[1], in_flight[0])
    try:
        await asyncio.sleep(0.3)
        return await _document(request)
    finally:
        in_flight[0] -= 1


async def _hook(request: Request) -> Response:
    seen.append(request.url.path)
    return Response(status_code=204)


@pytest.fixture(scope="module")
def ca() -> LabCA:
    return LabCA(seed=b"test-attacks", hosts=(REBOUND, "127.0.0.1"))


@pytest.fixture(scope="module")
def tls_host(ca: LabCA) -> Iterator[ServerThread]:
    files = tempfile.TemporaryDirectory()
    app = Starlette(routes=[Route("/client.json", _document), Route("/slow/{n}.json", _slow)])
    server = ServerThread(app, name="rebind-tls", ssl_files=ca.write_server_files(files.name)).start()
    yield server
    server.stop()
    files.cleanup()


@pytest.fixture(scope="module")
def plain_host() -> Iterator[ServerThread]:
    server = ServerThread(Starlette(routes=[Route("/hook", _hook, methods=["POST"])]), name="rebind-hook").start()
    yield server
    server.stop()


def rebinding_dns(later: str) -> Any:
    """A resolver for the running loop: ``REBOUND`` is ``PUBLIC`` the first time it is asked, ``later`` after."""
    asked: list[str] = []
    real = asyncio.get_running_loop().getaddrinfo

    async def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if (host.decode("ascii") if isinstance(host, bytes) else host) != REBOUND:  # anyio asks in bytes
            return await real(host, port, *args, **kwargs)
        asked.append(host)
        address = PUBLIC if len(asked) == 1 else later
        family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, int(port)))]

    asyncio.get_running_loop().getaddrinfo = getaddrinfo  # type: ignore[method-assign]
    return asked


# Finding 1: the SSRF check resolved the name, then httpx resolved it again to connect (DNS rebinding).
@pytest.mark.integration
@pytest.mark.parametrize("later", ["127.0.0.1", "0.0.0.0"])  # noqa: S104 - 0.0.0.0 reaches local listeners
def test_cimd_fetch_never_connects_to_an_address_the_check_did_not_pass(tls_host: ServerThread, ca: LabCA,
                                                                        later: str) -> None:
    policy = CimdPolicy(allowed_hosts=(f"{REBOUND}:{tls_host.port}",), ssl_context=ca.ssl_context(), timeout=2)
    resolver = CimdResolver(policy, clock=lambda: NOW)
    seen.clear()

    async def attempt() -> None:
        asked = rebinding_dns(later)
        try:
            await resolver.resolve(f"https://{REBOUND}:{tls_host.port}/client.json")
        finally:
            assert asked, "the resolver was never asked: the test proves nothing"

    with pytest.raises(CimdError):
        asyncio.run(attempt())
    assert seen == []  # the loopback server was never reached


@pytest.mark.integration
@pytest.mark.parametrize("later", ["127.0.0.1", "0.0.0.0"])  # noqa: S104
def test_push_delivery_never_connects_to_an_address_the_check_did_not_pass(plain_host: ServerThread,
                                                                           later: str) -> None:
    config = PushConfig(allowed_hosts=[f"{REBOUND}:{plain_host.port}"], timeout=2, max_retries=0)
    sender = SignedPushSender(None, PushPolicy(config), AgentSigner("http://agent"), config=config)  # type: ignore[arg-type]
    seen.clear()

    async def attempt() -> Any:
        rebinding_dns(later)
        try:
            await sender._deliver("task-1", f"http://{REBOUND}:{plain_host.port}/hook", "", {"id": "task-1"})
        finally:
            await sender.aclose()
        return sender.deliveries[-1]

    delivery = asyncio.run(attempt())
    assert seen == [] and delivery.status is None and delivery.error


# Finding 2: every /authorize or /token naming an uncached URL client fetched it, however many were in flight:
# N concurrent requests for one document made N fetches, and N distinct URLs made N outbound connections at once.
@pytest.mark.integration
def test_concurrent_requests_for_one_document_make_one_fetch(tls_host: ServerThread, ca: LabCA) -> None:
    policy = CimdPolicy(allowed_hosts=(f"127.0.0.1:{tls_host.port}",), allow_loopback=True,
                        ssl_context=ca.ssl_context(), timeout=5)
    resolver = CimdResolver(policy, clock=lambda: NOW)
    url = f"https://127.0.0.1:{tls_host.port}/slow/1.json"

    async def many() -> list[Any]:
        return await asyncio.gather(*(resolver.resolve(url) for _ in range(12)))

    clients = asyncio.run(many())
    assert {c.client_id for c in clients} == {url}
    assert resolver.fetches == 1


@pytest.mark.integration
def test_outbound_metadata_fetches_are_bounded_at_once(tls_host: ServerThread, ca: LabCA) -> None:
    policy = CimdPolicy(allowed_hosts=(f"127.0.0.1:{tls_host.port}",), allow_loopback=True,
                        ssl_context=ca.ssl_context(), timeout=5)
    resolver = CimdResolver(policy, clock=lambda: NOW)
    in_flight[1] = 0

    async def many() -> list[Any]:
        return await asyncio.gather(*(resolver.resolve(f"https://127.0.0.1:{tls_host.port}/slow/{n}.json")
                                      for n in range(3 * MAX_FETCHES)), return_exceptions=True)

    answers = asyncio.run(many())
    refused = [a for a in answers if isinstance(a, CimdError)]
    assert all(isinstance(a, CimdError) or a.name == "rebound" for a in answers)
    assert in_flight[1] <= MAX_FETCHES and resolver.fetches <= MAX_FETCHES < len(answers)
    assert refused and all("too many" in str(r.description) for r in refused)


# Finding 4: a replica read a shared introspection answer with the writer's expiry, not its own TTL: a replica
# configured for a 10 s revocation delay kept admitting a revoked token for the other replica's 300 s.
@pytest.mark.integration
def test_a_shared_verdict_never_outlives_the_readers_own_ttl(stage: Stage) -> None:  # noqa: F811
    async def scenario() -> None:
        slow, quick = stage.replica(ttl=300), stage.replica(ttl=10)
        token = stage.token()
        assert [await verdict(v, token) for v in (slow, quick)] == ["alice", "alice"]
        stage.revoke(token)
        stage.now += 11
        assert await verdict(quick, token) == "inactive"  # its own 10 s, whatever the other replica keeps
        await close_all(slow, quick)

    asyncio.run(scenario())
