"""UNSAFE: the documented mistakes of lesson 18's vulnerable authorization server and client, and their log.

Each mistake is a switch. The vulnerable authorization server (``as_``) and client (``client``) record what happened
in one ``FlowLog``: every breach (what the attacker won, and which switched-on mistakes it depended on) and every
refusal (the rule applied, and which mistakes were on then). Lesson 18's checks read only this log and the stores.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["DEFENCES", "MISTAKES", "Breach", "FlowLog", "Refusal", "mistake_names"]

# name -> the documented mistake (UNSAFE), where it lives
MISTAKES: Mapping[str, str] = {
    "redirect_prefix": "authorization server: redirect_uri is accepted when it merely starts with the client's "
                       "registered origin (prefix matching): 'http://client@attacker/' passes",
    "code_injection": "authorization server: the token endpoint does not compare redirect_uri with the one the code "
                      "was issued for, so a code stolen through another redirect redeems in the client's session",
    "pkce_downgrade": "authorization server: PKCE is optional and 'plain' is accepted; a code issued without a "
                      "challenge redeems with any code_verifier or none",
    "no_state": "client: sends no state and takes any code at its callback, in whatever browser session it arrives",
    "iss_unchecked": "client: never compares the iss of the authorization response (RFC 9207) with the server it "
                     "sent the user to, so it redeems a code at the wrong server (mix-up)",
    "open_redirect": "client: /go?to=URL redirects anywhere, query and all",
    "static_client_consent": "MCP proxy (lesson 17): one static client id at the authorization server, which remembers "
                             "consent by cookie; the proxy forwards any client registered with it without asking the "
                             "user about THAT client",
}
# name -> (the refusal reason its absence gives, the rule the real provider or a correct client applies)
DEFENCES: Mapping[str, tuple[str, str]] = {
    "redirect_prefix": ("redirect_uri", "RFC 9700 §2.1 / §4.1.3: redirect_uri compared with the registered ones by "
                                        "exact string match"),
    "code_injection": ("redirect_uri_mismatch", "RFC 6749 §4.1.3: the token request's redirect_uri must equal the "
                                                "authorization request's"),
    "pkce_downgrade": ("pkce", "RFC 9700 §2.1.1 / §4.8.2: PKCE required, S256 only; a code_verifier for a code "
                               "issued without a challenge is refused"),
    "no_state": ("state", "RFC 9700 §4.7.1 / RFC 6749 §10.12: the callback's state must be the one this browser's "
                          "login sent (CSRF)"),
    "iss_unchecked": ("iss", "RFC 9207 §2.4: the response's iss must name the server the client sent the user to"),
    "open_redirect": ("open_redirect", "RFC 9700 §4.11.1: a client never redirects to a URL it was handed"),
    "static_client_consent": ("consent", "MCP authorization 2025-11-25, Confused Deputy Problem: a proxy with a static "
                                         "client id MUST obtain the user's consent for each dynamically registered "
                                         "client before it forwards to the third-party authorization server"),
}


def mistake_names(mistakes: Iterable[str] | bool) -> frozenset[str]:
    """The names asked for (``True``: every mistake). Raises ``ValueError`` for an unknown name."""
    if mistakes is True:
        return frozenset(MISTAKES)
    if mistakes is False:
        return frozenset()
    names = frozenset([mistakes] if isinstance(mistakes, str) else mistakes)
    unknown = sorted(names - set(MISTAKES))
    if unknown:
        raise ValueError(f"unknown mistake {', '.join(unknown)}: known are {', '.join(MISTAKES)}")
    return names


@dataclass(frozen=True)
class Breach:
    """What an attacker won (``kind``: takeover, login_csrf, leak, mixup), whose, through which mistakes; ``keys``:
    per mistake, what the attack used it with (a redirect URI, a PKCE method, a session's role), as a replay's key."""

    kind: str
    user: str
    through: frozenset[str]
    keys: tuple[tuple[str, str], ...]

    def key(self, mistake: str) -> str | None:
        """What the attack used ``mistake`` with (None: not through it)."""
        return dict(self.keys).get(mistake)


@dataclass(frozen=True)
class Refusal:
    """A request refused for ``reason`` while ``on`` were switched on; ``key`` names what was tried (no secret)."""

    reason: str
    on: frozenset[str]
    key: str
    detail: str


class FlowLog:
    """The breaches and refusals of the vulnerable flow, in order; ``total`` counts them (for a challenge's mark)."""

    def __init__(self) -> None:
        self._entries: list[Breach | Refusal] = []
        self._lock = threading.Lock()  # the servers' threads write, a check reads

    def add(self, entry: Breach | Refusal) -> None:
        """Record one entry."""
        with self._lock:
            self._entries.append(entry)

    @property
    def total(self) -> int:
        """How many entries were ever recorded."""
        with self._lock:
            return len(self._entries)

    def since(self, total: int) -> list[Breach | Refusal]:
        """The entries recorded after the first ``total``, oldest first."""
        with self._lock:
            return list(self._entries[total:])
