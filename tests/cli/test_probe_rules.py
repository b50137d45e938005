"""The probe's binding rules in process: which resources a token source is asked for, which tokens are sent, what
counts as the same origin and the same resource, which scopes may be asked for (no server: the unit layer)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jwt

from labkit.probe.tokens import KINDS, build_tokens

from ..helpers import Keys, examples, mint

NAMED = "http://127.0.0.1:8000/mcp"


class Recording:
    """A token source that records what it is asked for and answers tokens whose ``aud`` a test chooses."""

    def __init__(self, signing: Keys, audience: Any) -> None:
        self.signing, self.audience = signing, audience
        self.asked: list[str] = []

    def ready(self) -> str | None:
        return None

    def keys(self) -> dict[str, Any] | None:
        return None

    def token(self, scopes: Sequence[str], resource: str | None) -> str | None:
        self.asked.append(str(resource))
        aud = resource if self.audience == "as asked" else self.audience
        return mint(self.signing.rsa, aud=aud, scope=" ".join(scopes))

    def expired(self, scopes: Sequence[str], resource: str | None) -> str | None:
        self.asked.append(str(resource))
        return None


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


_AUDIENCES = st.sampled_from([
    "as asked", NAMED, NAMED + "/", "api://oauth2-lab-agent", "http://127.0.0.1:9000/mcp", [NAMED],
    [NAMED, "api://oauth2-lab-agent"], ["http://127.0.0.1:9000/mcp"], [], 42, None])


@settings(max_examples=examples(100), deadline=None)
@given(audience=_AUDIENCES, required=st.lists(st.sampled_from(["api:read", "admin", "openid"]), max_size=3))
def test_tokens_are_asked_for_and_bound_to_the_named_resource_only(keys: Keys, audience: Any,
                                                                   required: list[str]) -> None:
    source = Recording(keys, audience)
    built = build_tokens(source, ("api:read",), NAMED, None, required=required)
    # DESIGN "A tool binds to what the user named": no resource off the named origin is ever asked for
    assert source.asked and all(_origin(r) == _origin(NAMED) for r in source.asked), source.asked
    for kind in ("valid", "missing scope"):
        token = built[kind][0]
        if token is not None:
            aud = jwt.decode(token, keys.rsa).claims.get("aud")
            audiences = aud if isinstance(aud, list) else [aud]
            assert audiences and all(a in (NAMED, NAMED + "/") for a in audiences), (kind, aud)
    assert set(built) == set(KINDS)


@pytest.mark.parametrize(("a", "b", "same"), [
    ("http://127.0.0.1:8000", "http://127.0.0.1:8000/", True),
    ("HTTP://LOCALHOST:8000/mcp", "http://localhost:8000/mcp/", True),
    ("http://h", "http://h:80/", True),
    ("http://h/mcp", "http://h/MCP", False),
    ("http://h/mcp", "http://h/mcp?x=1", False),
    ("http://h/", "http://h/#", False),
    ("http://h:1/", "https://h:1/", False),
    ("http://127.0.0.1:80\\@evil.example/", "http://127.0.0.1/", False),  # httpx, the client, reads evil.example
    ("http://h:1/", 42, False),
])
def test_same_resource(a: str, b: Any, same: bool) -> None:
    from labkit.probe.fetch import same_resource

    assert same_resource(a, b) is same and same_resource(b, a) is same


def test_scopes_asked_for_are_scope_tokens_and_few() -> None:
    from labkit.probe.tokens import MAX_SCOPES, checked_scopes

    kept, note = checked_scopes(["api:read", "a b", "\x00", "é", "x" * 300, "", "api:read", '"', "\\"])
    assert kept == ("api:read",) and "malformed" in note
    kept, note = checked_scopes([f"s{i}" for i in range(40)])
    assert len(kept) == MAX_SCOPES and "past the first" in note
