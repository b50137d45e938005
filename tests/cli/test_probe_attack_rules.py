"""``same_resource`` attacked as a parser differential: a string it accepts as the named resource must name the
same origin under every reading, RFC 3986 (``urllib``) and WHATWG (browsers, Node: ``\\`` ends the authority)."""

from __future__ import annotations

from urllib.parse import urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from labkit.probe.fetch import same_resource

from ..helpers import examples

BASE = "http://127.0.0.1:8000/mcp"
_SCHEME = st.sampled_from(["http://", "HTTP://", "http:/", "http:\\\\"])
_USERINFO = st.sampled_from(["", "", "u@", "u:p@", "127.0.0.1:9000\\@", "127.0.0.1:9000%5C@", "@", "%40"])
_HOST = st.sampled_from(["127.0.0.1", "127.0.0.1", "127.0.0.2", "localhost", "127\u30020\u30020\u30021", "127.0.0.1.",
                         "[::1]", "127.1", " 127.0.0.1"])
_PORT = st.sampled_from([":8000", ":8000", ":08000", ":9000", "", ":8000\\@127.0.0.1:9000"])
_PATH = st.sampled_from(["/mcp", "/mcp", "/mcp/", "/%6dcp", "/x/../mcp", "/x/%2e%2e/mcp", "/./mcp", "//mcp", "/MCP",
                         "\\mcp", "/mcp?", "/mcp#", "/mcp ", "/mcp\t", "/m%2Fcp", "/mcp;x", "/mcp@127.0.0.1:9000"])
URLS = st.tuples(_SCHEME, _USERINFO, _HOST, _PORT, _PATH).map("".join)


def _whatwg_authority(url: str) -> str:
    """The host[:port] a WHATWG parser reads for a special scheme: the authority ends at / \\ ? #."""
    rest = url.split("://", 1)[1] if "://" in url else ""
    for end in "/\\?#":
        rest = rest.split(end, 1)[0]
    return rest.rsplit("@", 1)[-1].lower()


@settings(max_examples=examples(400))
@given(URLS)
def test_a_resource_the_probe_accepts_names_the_same_origin_for_every_parser(url: str) -> None:
    if not same_resource(url, BASE):
        return
    parts = urlsplit(url)
    assert (parts.hostname, parts.port) == ("127.0.0.1", 8000) and "@" not in parts.netloc, url
    assert _whatwg_authority(url) == "127.0.0.1:8000", url


def test_the_documented_equivalences_still_hold() -> None:
    for url in ("http://127.0.0.1:8000/mcp/", "HTTP://127.0.0.1:8000/mcp", "http://LOCALHOST:8000/mcp"):
        assert same_resource(url, url.lower().rstrip("/"))
    assert same_resource("http://h:80/", "http://h")
    for url in ("http://127.0.0.1:9000\\@127.0.0.1:8000/mcp", "http://u@127.0.0.1:8000/mcp",
                "http://127.0.0.1:08000/mcp", "http://127.0.0.1:8000/x/../mcp", "http://127.0.0.1:8000/%6dcp"):
        assert not same_resource(url, BASE), url
