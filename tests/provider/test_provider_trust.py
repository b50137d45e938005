"""``TrustPolicy``: a reserved name only from its own hosts (look-alikes included), https redirects only on exact
allowed hosts; applied to RFC 7591 registration and to client ID metadata documents."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labkit.provider import MockProvider, TrustPolicy
from labkit.provider.cimd import CimdError, CimdResolver
from labkit.provider.rfc7591 import RegistrationPolicy
from labkit.provider.trust import redirect_host, skeleton

from ..helpers import AsgiClient, examples

BASE = "http://127.0.0.1"
NOW = 1_767_225_600
REAL = "https://copilot.github.com/oauth/callback"
POLICY = TrustPolicy(redirect_hosts=("copilot.github.com",),
                     reserved_names={"GitHub Copilot": ("copilot.github.com",)})


@pytest.fixture()
def provider() -> MockProvider:
    return MockProvider(base_url=BASE, clock=lambda: NOW, tenants=("acme",))


@pytest.fixture()
def http(provider: MockProvider) -> Iterator[AsgiClient]:
    with AsgiClient(provider.app, BASE, raise_app_exceptions=False) as client:
        yield client


def register(http: AsgiClient, name: str, *redirects: str, prefix: str = "") -> tuple[int, str]:
    answer = http.post(prefix + "/register", json={"client_name": name, "redirect_uris": list(redirects),
                                                   "token_endpoint_auth_method": "none"})
    return answer.status_code, answer.json().get("error", "")


def test_by_default_nothing_is_reserved_and_https_redirects_are_refused(http: AsgiClient) -> None:
    assert register(http, "GitHub Copilot", "http://127.0.0.1:6789/callback") == (201, "")
    assert register(http, "GitHub Copilot", REAL) == (400, "invalid_redirect_uri")


def test_the_policy_refuses_the_impersonator_and_registers_the_real_app(provider: MockProvider,
                                                                        http: AsgiClient) -> None:
    provider.configure_trust(POLICY)
    assert register(http, "GitHub Copilot", "http://127.0.0.1:6789/callback") == (400, "invalid_client_metadata")
    assert register(http, "GitHub Copi1ot", "http://127.0.0.1:6789/callback") == (400, "invalid_client_metadata")
    assert register(http, "GitHub Copilot", REAL, "http://127.0.0.1:6789/callback")[0] == 400  # one bad host is enough
    assert register(http, "GitHub Copilot", REAL) == (201, "")
    assert register(http, "Acme Notes", "http://127.0.0.1:5000/cb") == (201, "")
    # every tenant, one policy
    assert register(http, "GitHub Copilot", "http://127.0.0.1:1/cb", prefix="/acme") == (400, "invalid_client_metadata")
    assert provider.trust == POLICY


@pytest.mark.parametrize("uri", ["https://copilot.github.com.evil.example/cb", "https://evil.example/copilot.github.com",
                                 "https://copilot.github.com:8443/cb", "https://xcopilot.github.com/cb",
                                 "http://copilot.github.com/cb", "https://copilot.github.com@evil.example/cb"])
def test_https_redirect_hosts_match_exactly(provider: MockProvider, http: AsgiClient, uri: str) -> None:
    provider.configure_trust(POLICY)
    status, error = register(http, "Some App", uri)
    assert status == 400 and error in {"invalid_redirect_uri", "invalid_client_metadata"}


def test_the_policy_is_copied_when_configured(provider: MockProvider, http: AsgiClient) -> None:
    names: dict[str, tuple[str, ...]] = {"GitHub Copilot": ("copilot.github.com",)}
    provider.configure_trust(TrustPolicy(reserved_names=names))
    names["GitHub Copilot"] = ("127.0.0.1",)  # a later edit of the caller's dict changes nothing
    assert register(http, "GitHub Copilot", "http://127.0.0.1:6789/callback")[0] == 400


@pytest.mark.parametrize(("value", "key"), [
    ({"redirect_hosts": "copilot.github.com"}, "redirect_hosts"),
    ({"redirect_hosts": ("*.github.com",)}, "redirect_hosts[0]"),
    ({"redirect_hosts": ("https://copilot.github.com",)}, "redirect_hosts[0]"),
    ({"redirect_hosts": ("Copilot.GitHub.com",)}, "redirect_hosts[0]"),
    ({"redirect_hosts": ("copilot.github.com:443",)}, "redirect_hosts[0]"),
    ({"reserved_names": {"GitHub Copilot": "copilot.github.com"}}, "reserved_names['GitHub Copilot']"),
    ({"reserved_names": {"Go": ()}}, "reserved_names['Go']"),
    ({"reserved_names": [("GitHub Copilot", ())]}, "reserved_names"),
])
def test_malformed_policies_name_the_key(value: dict[str, object], key: str) -> None:
    with pytest.raises(ValueError) as raised:
        TrustPolicy(**value)  # type: ignore[arg-type]
    assert str(raised.value).startswith(key)


def test_configure_trust_takes_only_a_policy(provider: MockProvider) -> None:
    with pytest.raises(TypeError):
        provider.configure_trust({"reserved_names": {}})  # type: ignore[arg-type]


LOOK_ALIKES = {"i": ["1", "l", "I", "\u0456", "\u03b9", "!"], "o": ["0", "O", "\u043e", "\u03bf", "\u00f3"],
               "c": ["C", "\u0441"], "p": ["\u0440", "\u03c1"], "t": ["7", "T"], "h": ["H"]}


@settings(max_examples=examples(80), deadline=None)
@given(data=st.data())
def test_look_alikes_of_a_reserved_name_are_refused_from_other_hosts(data: st.DataObject) -> None:
    name = ""
    for char in "GitHub Copilot":
        options = [char, *LOOK_ALIKES.get(char.lower(), [])]
        name += data.draw(st.sampled_from(options))
        name += data.draw(st.sampled_from(["", "", " ", "-", "."]))
    name = data.draw(st.sampled_from(["", "The ", "Official "])) + name + data.draw(st.sampled_from(["", " Pro"]))
    assert skeleton(name).count(skeleton("GitHub Copilot")) >= 1
    assert POLICY.name_refusal(name, ["http://127.0.0.1:1/cb"]) is not None
    assert POLICY.name_refusal(name, [REAL]) is None


def test_names_that_only_share_a_word_are_not_reserved() -> None:
    for name in ("GitHub Desktop", "Copilot Notes", "Acme Agent", "Copy Lot"):
        assert POLICY.name_refusal(name, ["http://127.0.0.1:1/cb"]) is None, name


def test_a_metadata_document_is_held_to_the_policy_on_its_own_host_too() -> None:
    resolver = CimdResolver(clock=lambda: NOW, registration=RegistrationPolicy(trust=POLICY))
    url = "https://copi1ot-github.example/client.json"
    phish = {"client_id": url, "client_name": "GitHub Copilot", "redirect_uris": [REAL]}
    with pytest.raises(CimdError, match="looks like 'GitHub Copilot'"):
        resolver._client_from(url, phish)  # the redirect is the real app's, the document's host is not
    real = "https://copilot.github.com/client.json"
    assert resolver._client_from(real, {**phish, "client_id": real}).name == "GitHub Copilot"


def test_the_metadata_logo_is_kept_for_the_page_to_judge() -> None:
    resolver = CimdResolver(clock=lambda: NOW)
    url = "https://client.example/meta"
    document = {"client_id": url, "client_name": "tool", "redirect_uris": ["http://localhost:3000/cb"],
                "logo_uri": "https://client.example/logo.png"}
    assert resolver._client_from(url, document).logo_uri == "https://client.example/logo.png"


@pytest.mark.parametrize(("uri", "host"), [("https://a.example/cb", "a.example"), ("https://a.example:443/cb",
                         "a.example"), ("https://a.example:8443/cb", "a.example:8443"),
                         ("http://127.0.0.1:6789/cb", "127.0.0.1"), ("http://a.example/cb", None)])
def test_redirect_host(uri: str, host: str | None) -> None:
    assert redirect_host(uri) == host


# letters a table of look-alikes does not list: Cyrillic capital En, dotless i, inverted exclamation mark, and whole
# names in Lisu and Cherokee capitals, which draw Latin capitals
UNLISTED = ["Git\u041dub Copilot", "GitHub Cop\u0131lot", "GitHub Cop\u00a1lot",
            "\ua4d6\ua4f2\ua4d4\ua4e7\ua4f4\ua4d0 \ua4da\ua4f3\ua4d1\ua4f2\ua4e1\ua4f3\ua4d4",
            "G\u13a5\u13a2\u13bbub Cop\u13a5lot"]


@pytest.mark.parametrize("name", UNLISTED)
def test_a_look_alike_the_table_does_not_list_is_still_refused(name: str) -> None:
    assert POLICY.name_refusal(name, ["http://127.0.0.1:1/cb"]) is not None, ascii(name)
    assert POLICY.name_refusal(name, [REAL]) is None


# any character the skeleton cannot fold to a Latin letter and marks unknown ("?": it may be drawn as any letter)
_UNFOLDED = st.characters(min_codepoint=0x80, max_codepoint=0x2FFFF,
                          categories=("Lu", "Ll", "Lt", "Lm", "Lo", "So", "Po", "Sm", "Nl", "No")).filter(
    lambda c: skeleton(c) == "?")


@settings(max_examples=examples(120), deadline=None)
@given(data=st.data())
def test_any_letter_swapped_for_a_character_the_skeleton_does_not_know_is_still_refused(data: st.DataObject) -> None:
    """The class behind the unlisted look-alikes: a reserved name with some letters replaced by characters the
    look-alike table has never seen must still read as the reserved name (the table cannot list them all)."""
    name = list("GitHub Copilot")
    letters = [i for i, c in enumerate(name) if c != " "]
    for i in data.draw(st.lists(st.sampled_from(letters), min_size=1, max_size=6, unique=True)):
        name[i] = data.draw(_UNFOLDED)
    text = "".join(name)
    assert POLICY.name_refusal(text, ["http://127.0.0.1:1/cb"]) is not None, ascii(text)


def test_names_in_other_scripts_that_look_like_no_reserved_name_still_register() -> None:
    for name in ("Ассистент по коду", "代码助手", "コードアシスタント", "코드 도우미", "Copy Lot"):
        assert POLICY.name_refusal(name, ["http://127.0.0.1:1/cb"]) is None, name


def test_a_name_written_backwards_behind_a_right_to_left_override_is_refused(provider: MockProvider,
                                                                            http: AsgiClient) -> None:
    # U+202E shows "toliPoC buHtiG" as "GitHub CoPilot", which the skeleton never sees: such a name is refused
    # before the policy (rfc7591.check_client_metadata: no control, format or bidi character in display text)
    provider.configure_trust(POLICY)
    assert register(http, "\u202etoliPoC buHtiG", "http://127.0.0.1:6789/callback") == (400, "invalid_client_metadata")

