"""``labkit probe`` against a hostile agent (``hostile_agent.py``): never a confused deputy.

The probe runs as a user runs it (``labkit probe URL ... --json``) against an agent that lies about its resource,
its authorization server, its token endpoint and its endpoints, redirects across origins, drips and floods. Every
request the agent and the attacker's server (another origin) receive is recorded, and after every run: no token
and no secret reached the attacker, no secret reached the agent, and every token the lab provider signed that the
agent received is bound to the agent's own origin. Runs end within their deadline and read a bounded amount.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from labkit.cli import main
from labkit.lab import Lab
from labkit.servers import ServerThread

from ..helpers import examples
from .hostile_agent import CHUNK, Hostile, Lies, agent_app, attacker_app, gzip_bomb

pytestmark = pytest.mark.integration

SECRET = "lab-client-secret"  # the lab's documented persona secret
SENT_BOUND = 48 << 20  # a refused 200 MiB body: the cap plus what the kernel buffers on loopback, far below 200 MiB
PEAK_BOUND = 32 << 20  # Python memory a probe of a flooding agent may hold at its peak


@pytest.fixture(scope="module")
def hostile() -> Iterator[Hostile]:
    state = Hostile()
    agent, attacker = ServerThread(agent_app(state), name="hostile"), ServerThread(attacker_app(state), name="attacker")
    state.agent_url, state.attacker_url = agent.url, attacker.url
    with agent, attacker:
        yield state


@pytest.fixture(scope="module")
def provider_keys(lab: Lab) -> KeySet:
    return KeySet.import_key_set(httpx.get(f"{lab.provider_url}/jwks", timeout=10).json())


def origin_of(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.hostname, parts.port


def honest_card(hostile: Hostile, provider: str) -> dict[str, Any]:
    flows = {"clientCredentials": {"tokenUrl": f"{provider}/token", "scopes": {"api:read": "read"}}}
    return {"name": "hostile", "url": hostile.agent_url, "protocolVersion": "0.3",
            "securitySchemes": {"oauth2": {"type": "oauth2", "flows": flows}}, "security": [{"oauth2": ["api:read"]}]}


def honest_metadata(hostile: Hostile, provider: str) -> dict[str, Any]:
    return {"resource": hostile.agent_url, "authorization_servers": [provider], "scopes_supported": ["api:read"]}


@contextlib.contextmanager
def peak_memory() -> Iterator[list[int]]:
    """The peak of Python's allocations inside the block (``[peak]`` once it ends)."""
    found: list[int] = []
    tracemalloc.start()
    try:
        yield found
    finally:
        found.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()


def probe(argv: list[str], *, timeout: float = 1.0) -> tuple[int | None, dict[str, Any] | None, bool]:
    """``labkit probe ... --json --timeout T`` in a thread: (exit code, report, whether it ended within the probe's
    whole budget, 20 x T, plus 10 s of slack for a loaded machine)."""
    out, done = io.StringIO(), threading.Event()
    result: list[int] = []

    def run() -> None:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            result.append(main(["probe", *argv, "--json", "--timeout", str(timeout)]))
        done.set()

    threading.Thread(target=run, daemon=True).start()
    ended = done.wait(20 * timeout + 10)
    text = out.getvalue()
    report = json.loads(text) if ended and text.strip().startswith("{") else None
    return (result[0] if result else None), report, ended


def assert_nothing_leaked(hostile: Hostile, keys: KeySet) -> list[dict[str, Any]]:
    """No token, no secret to the attacker; no secret to the agent; no cookie to anyone; the provider's tokens the
    agent got are bound to the agent's origin. Answers the claims of those tokens."""
    for record in hostile.received("attacker"):
        text = record.text()
        assert "authorization" not in dict(record.headers), record
        assert SECRET not in text and "eyJ" not in text and "attacker-issued" not in text, record
    # cookies ignore ports: one set by any server on the host must never come back to another (none is kept)
    assert not [r for r in hostile.records if "cookie" in dict(r.headers)]
    bound: list[dict[str, Any]] = []
    for record in hostile.received("agent"):
        text = record.text()
        assert SECRET not in text and "attacker-issued" not in text, record
        token = dict(record.headers).get("authorization", "").removeprefix("Bearer ")
        try:
            claims = jwt.decode(token, keys, algorithms=["RS256", "ES256", "EdDSA"]).claims
        except (JoseError, ValueError):
            continue  # not a token the provider signed (garbage, alg none, key confusion)
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        assert audiences and all(origin_of(a) == origin_of(hostile.agent_url) for a in audiences), claims
        bound.append(claims)
    return bound


def refusals(report: dict[str, Any]) -> str:
    return "\n".join(f"{r['what']}: {r['why']}" for r in report.get("refused", []))


@pytest.mark.parametrize("named", ["real agent", "real agent mcp", "attacker", "other path", "missing", "number"])
def test_metadata_naming_another_resource_gets_no_token(lab: Lab, hostile: Hostile, provider_keys: KeySet,
                                                        named: str) -> None:
    resource = {"real agent": lab.agent_url + "/", "real agent mcp": lab.agent_url + "/mcp",
                "attacker": hostile.attacker_url, "other path": hostile.agent_url + "/other", "number": 42}.get(named)
    metadata = {**honest_metadata(hostile, lab.provider_url), "resource": resource}
    if named == "missing":
        del metadata["resource"]
    hostile.reset(Lies(card=honest_card(hostile, lab.provider_url), metadata=metadata))
    code, report, ended = probe([hostile.agent_url, "--provider", lab.provider_url], timeout=5)
    assert ended and report is not None
    assert assert_nothing_leaked(hostile, provider_keys) == []  # not one token the provider signed reached it
    tokened = [r for r in hostile.received("agent") if "authorization" in dict(r.headers)]
    assert {dict(r.headers)["authorization"] for r in tokened} == {"Bearer labkit-probe-garbage"}
    assert code == 1 and "RFC 9728 §3.3" in refusals(report) and "no token is requested" in refusals(report)


def test_an_honest_agent_gets_tokens_bound_to_it(lab: Lab, hostile: Hostile, provider_keys: KeySet) -> None:
    hostile.reset(Lies(card=honest_card(hostile, lab.provider_url), metadata=honest_metadata(hostile,
                                                                                             lab.provider_url)))
    _, report, ended = probe([hostile.agent_url, "--provider", lab.provider_url], timeout=5)
    assert ended and report is not None and not report["refused"], report
    bound = assert_nothing_leaked(hostile, provider_keys)
    assert bound and all(c["aud"] in (hostile.agent_url, [hostile.agent_url]) or
                         c["aud"] == [f"{hostile.agent_url}/labkit-probe-other-audience"] or
                         c["aud"] == f"{hostile.agent_url}/labkit-probe-other-audience" for c in bound), bound


@pytest.mark.parametrize("lie", ["authorization server", "card tokenUrl", "issuer elsewhere"])
def test_credentials_go_only_where_the_user_said(lab: Lab, hostile: Hostile, provider_keys: KeySet,
                                                  lie: str) -> None:
    card = honest_card(hostile, lab.provider_url)
    metadata = honest_metadata(hostile, lab.provider_url)
    if lie == "authorization server":
        metadata["authorization_servers"] = [hostile.attacker_url]
        card["securitySchemes"]["oauth2"]["flows"]["clientCredentials"].pop("tokenUrl")
    else:
        card["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]["tokenUrl"] = f"{hostile.attacker_url}/token"
        metadata["authorization_servers"] = [hostile.attacker_url]
    hostile.reset(Lies(card=card, metadata=metadata))
    credentials = ["--client-id", "lab-client", "--client-secret", SECRET]
    extra = ["--issuer", f"{hostile.attacker_url}/tenant"] if lie == "issuer elsewhere" else []
    code, report, ended = probe([hostile.agent_url, *credentials, *extra], timeout=5)
    assert ended and report is not None
    assert_nothing_leaked(hostile, provider_keys)
    assert not [r for r in hostile.received("attacker") if r.url.endswith("/token")]
    assert code == 1 and "credentials not sent" in refusals(report), report
    if lie == "issuer elsewhere":  # the attacker's metadata names another issuer than the one the user named
        assert "RFC 8414 §3.3" in refusals(report)
    # with the issuer the user names, the same agent is probed with real tokens, bound to it
    code, report, ended = probe([hostile.agent_url, *credentials, "--issuer", lab.provider_url], timeout=5)
    assert ended and report is not None and "credentials not sent" not in refusals(report)
    assert assert_nothing_leaked(hostile, provider_keys)


def test_endpoints_on_other_origins_are_not_probed(lab: Lab, hostile: Hostile, provider_keys: KeySet) -> None:
    card = {**honest_card(hostile, lab.provider_url), "url": f"{hostile.attacker_url}/a2a",
            "supportedInterfaces": [{"url": f"{hostile.attacker_url}/v1", "protocolBinding": "JSONRPC",
                                     "protocolVersion": "1.0"},
                                    {"url": f"{hostile.agent_url}/", "protocolBinding": "JSONRPC"}],
            "additionalInterfaces": [{"url": f"{hostile.attacker_url}/mcp", "transport": "JSONRPC"}]}
    hostile.reset(Lies(card=card, metadata=honest_metadata(hostile, lab.provider_url)))
    _, report, ended = probe([hostile.agent_url, "--provider", lab.provider_url], timeout=5)
    assert ended and report is not None
    assert_nothing_leaked(hostile, provider_keys)
    assert hostile.received("attacker") == []  # not even an anonymous call
    not_probed = "\n".join(report["advertised"]["not_probed"])
    for path in ("/a2a", "/v1", "/mcp"):
        assert f"{hostile.attacker_url}{path}: not probed: other origin" in not_probed
    assert {r["endpoint"] for r in report["results"]} == {"a2a 0.3 /"}


def test_redirects_stay_on_the_origin(lab: Lab, hostile: Hostile, provider_keys: KeySet) -> None:
    card = honest_card(hostile, lab.provider_url)
    hostile.reset(Lies(card="redirect same", metadata="redirect cross", answer="redirect cross",
                       moved={"/.well-known/agent-card.json": card}))
    code, report, ended = probe([hostile.agent_url, "--provider", lab.provider_url], timeout=5)
    assert ended and report is not None
    assert_nothing_leaked(hostile, provider_keys)
    assert not [r for r in hostile.received("attacker") if r.method == "POST"]  # a call's redirect is not followed
    assert report["advertised"]["card_name"] == "hostile"  # a same-origin redirect is followed
    assert code == 1 and "redirects to another origin" in refusals(report)


class HeaderDripper:
    """A raw server that answers every connection with a status line, then one header byte every 50 ms; or
    (``informational``) with one ``100 Continue`` after another, never a final answer."""

    def __init__(self, *, informational: bool = False) -> None:
        self.informational = informational
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.stop = threading.Event()
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            with contextlib.suppress(OSError):
                conn, _ = self.sock.accept()
                threading.Thread(target=self.drip, args=(conn,), daemon=True).start()

    def drip(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            if self.informational:
                while not self.stop.wait(0.01):
                    conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Drip: ")
            while not self.stop.wait(0.05):
                conn.sendall(b"x")

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.mark.parametrize("where", ["card", "metadata", "answer", "headers", "informational"])
def test_a_dripping_agent_ends_within_the_deadline(lab: Lab, hostile: Hostile, provider_keys: KeySet,
                                                   where: str) -> None:
    card, metadata = honest_card(hostile, lab.provider_url), honest_metadata(hostile, lab.provider_url)
    hostile.reset(Lies(card="drip" if where == "card" else card, metadata="drip" if where == "metadata" else metadata,
                       answer="drip" if where == "answer" else "json"))
    dripper = HeaderDripper(informational=where == "informational") if where in ("headers", "informational") else None
    try:
        url = dripper.url if dripper else hostile.agent_url
        code, report, ended = probe([url, "--provider", lab.provider_url], timeout=1)
    finally:
        if dripper:
            dripper.close()
    assert ended, "the probe did not end within its budget"
    assert code == 1 and report is not None
    why = refusals(report) + "\n".join(r["note"] for r in report["results"])
    assert "no complete answer within 1s" in why or "time budget" in why, report
    assert_nothing_leaked(hostile, provider_keys)


def test_one_fetch_of_a_drip_ends_by_its_deadline(hostile: Hostile) -> None:
    from labkit.probe.fetch import Fetcher, FetchRefused

    hostile.reset(Lies(card="drip"))
    with Fetcher(1.0) as fetcher:
        started = time.monotonic()
        with pytest.raises(FetchRefused, match="within 1s"):
            fetcher.json(f"{hostile.agent_url}/.well-known/agent-card.json")
        assert time.monotonic() - started < 1.0 + 2.0  # the whole fetch, not one read (the drip lasts 60 s)


@pytest.mark.parametrize("flood", ["huge", "huge declared", "gzip"])
def test_a_huge_card_is_refused_after_the_cap(lab: Lab, hostile: Hostile, provider_keys: KeySet, flood: str) -> None:
    gzip_bomb()  # made before memory is traced: the server's own bytes
    hostile.reset(Lies(card=flood, metadata=honest_metadata(hostile, lab.provider_url)))
    with peak_memory() as peak:
        code, report, ended = probe([hostile.agent_url, "--provider", lab.provider_url], timeout=10)
    assert ended and report is not None
    assert hostile.sent < SENT_BOUND, hostile.sent
    assert peak[0] < PEAK_BOUND, peak
    assert_nothing_leaked(hostile, provider_keys)
    assert code == 1 and ("larger than" in refusals(report) or "Content-Length over" in refusals(report) or
                          "compressed" in refusals(report)), report


def test_one_fetch_of_a_flood_reads_at_most_cap_and_a_chunk(hostile: Hostile) -> None:
    from labkit.probe.fetch import MAX_BYTES, Fetcher, FetchRefused

    hostile.reset(Lies(card="huge"))
    with Fetcher(10) as fetcher:
        with pytest.raises(FetchRefused, match="larger than"):
            fetcher.json(f"{hostile.agent_url}/.well-known/agent-card.json")
        assert MAX_BYTES < fetcher.largest <= MAX_BYTES + CHUNK


# -- the fuzz: hostile shapes, generated ------------------------------------------------------------------------

_BEHAVIOUR = st.sampled_from(["drip", "huge", "huge declared", "redirect same", "redirect cross", "gzip",
                              "missing"])


def _urls(hostile: Hostile, lab: Lab) -> st.SearchStrategy[Any]:
    """Values a liar puts where a URL goes: its own, the real agent's, the attacker's, variants, junk."""
    own, attacker = hostile.agent_url, hostile.attacker_url
    return st.sampled_from([
        own, own + "/", own.upper(), own + "/mcp", own + "#x", lab.agent_url, lab.agent_url + "/",
        lab.agent_url + "/mcp", lab.provider_url, f"{lab.provider_url}/token", attacker, f"{attacker}/token",
        f"{attacker}/mcp", f"{attacker}/.well-known/oauth-protected-resource", "/relative", "//evil.example/x",
        "javascript:alert(1)", "", 42, None, [own], {"url": own}])


def _documents(hostile: Hostile, lab: Lab) -> tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]:
    urls = _urls(hostile, lab)
    scopes = st.lists(st.sampled_from(["api:read", "admin", "a b", "\x00", "é", "x" * 300, 7]), max_size=40)
    interface = st.fixed_dictionaries({"url": urls}, optional={
        "protocolBinding": st.sampled_from(["JSONRPC", "GRPC", 3]), "transport": st.sampled_from(["JSONRPC"]),
        "protocolVersion": st.sampled_from(["1.0", "0.3", None])})
    flow = st.fixed_dictionaries({}, optional={"tokenUrl": urls, "scopes": st.dictionaries(
        st.sampled_from(["api:read", "admin", "x y"]), st.just("s"), max_size=3)})
    card = st.fixed_dictionaries({}, optional={
        "name": st.text(max_size=20), "url": urls, "protocolVersion": st.sampled_from(["0.3", "1.0", 1]),
        "supportedInterfaces": st.lists(interface, max_size=12) | urls,
        "additionalInterfaces": st.lists(interface, max_size=4),
        "securitySchemes": st.dictionaries(st.sampled_from(["oauth2", "x"]), st.fixed_dictionaries(
            {"type": st.just("oauth2"), "flows": st.dictionaries(st.sampled_from(["clientCredentials", "code"]),
                                                                 flow, max_size=2)}), max_size=2) | urls,
        "security": st.lists(st.dictionaries(st.just("oauth2"), scopes, max_size=1), max_size=2) | urls})
    metadata = st.fixed_dictionaries({}, optional={
        "resource": urls, "authorization_servers": st.lists(urls, max_size=3) | urls, "scopes_supported": scopes})
    return card, metadata


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_never_a_confused_deputy(lab: Lab, hostile: Hostile, provider_keys: KeySet, data: st.DataObject) -> None:
    card, metadata = _documents(hostile, lab)
    urls = _urls(hostile, lab).filter(lambda u: isinstance(u, str) and '"' not in u)
    lies = Lies(card=data.draw(card | _BEHAVIOUR, "card"), metadata=data.draw(metadata | _BEHAVIOUR, "metadata"),
                challenge=data.draw(st.fixed_dictionaries({}, optional={
                    "resource_metadata": urls, "scope": st.sampled_from(["api:read", "admin x\x7f", "a" * 600])}),
                    "challenge"),
                answer=data.draw(st.sampled_from(["json", "json", "drip", "redirect cross"]), "answer"))
    lies.moved = {"/.well-known/agent-card.json": data.draw(card, "moved card"),
                  "/.well-known/oauth-protected-resource": data.draw(metadata, "moved metadata")}
    source = data.draw(st.sampled_from([
        ["--provider", lab.provider_url], ["--client-id", "lab-client", "--client-secret", SECRET],
        ["--client-id", "lab-client", "--client-secret", SECRET, "--issuer", lab.provider_url],
        ["--client-id", "lab-client", "--client-secret", SECRET, "--issuer", hostile.agent_url]]), "source")
    named = data.draw(st.sampled_from([hostile.agent_url, hostile.agent_url + "/", hostile.agent_url + "/mcp"]),
                      "named")
    hostile.reset(lies)
    code, report, ended = probe([named, *source], timeout=0.5)
    assert ended, "the probe did not end within its budget"
    assert code in (0, 1)
    assert hostile.sent < SENT_BOUND, hostile.sent
    bound = assert_nothing_leaked(hostile, provider_keys)
    if report is not None and any("RFC 9728 §3.3" in r["why"] for r in report["refused"]):
        assert bound == []  # metadata named another resource: no token was requested
