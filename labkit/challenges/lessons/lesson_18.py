"""Lesson 18's sub-challenges, one per mistake of the vulnerable authorization flow: exploit it, switch it off, replay.

Each check reads only the flow's log since ``start()`` (``labkit.vulnerable.flow``): the lab itself decided that the
attacker won (a client session bound to the wrong user, a code of alice's at the attacker's site or token endpoint)
and which switched-on mistakes that depended on; then the same attack (the same redirect URI, PKCE method, session or
server) must have been refused with the mistake off, for the rule the real provider or a correct client applies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ...vulnerable.flow.mistakes import DEFENCES, Breach, Refusal
from ..base import Challenge, CheckResult
from ..mark import Mark

if TYPE_CHECKING:
    from ...lab.runner import Lab

__all__ = ["CHALLENGES", "WINS", "check_mistake", "flow_entries"]

_NEEDS_LAB = "start the lab with Lab(vulnerable_as=True): the attacks run against the vulnerable flow"
# mistake -> what the attacker must have won through it (``Breach.kind``)
WINS: dict[str, tuple[str, ...]] = {
    "redirect_prefix": ("takeover",), "code_injection": ("takeover",), "no_state": ("login_csrf",),
    "pkce_downgrade": ("login_csrf",), "iss_unchecked": ("mixup",), "open_redirect": ("leak", "takeover"),
    "static_client_consent": ("proxy_code",),
}
_WON = {"takeover": "the attacker's browser logged in to the client as alice",
        "login_csrf": "alice's browser logged in to the client as the attacker",
        "mixup": "a code the honest server issued for alice reached the attacker's token endpoint",
        "leak": "a code issued for alice reached the attacker's site",
        "proxy_code": "a code the MCP proxy issued for alice reached the attacker's site"}


def flow_entries(lab: Lab, mark: Mark) -> list[Breach | Refusal]:
    """The flow's breaches and refusals since the mark (none without ``Lab(vulnerable_as=...)``)."""
    return lab.flow.log.since(mark.flow_total) if lab.flow is not None else []


def check_mistake(mistake: str) -> Callable[[Lab, Mark], CheckResult]:
    """The check for one mistake: an attack won through it since ``start()``, then refused once it is off."""
    reason, rule = DEFENCES[mistake]

    def check(lab: Lab, mark: Mark) -> CheckResult:
        if lab.flow is None:
            return CheckResult(False, _NEEDS_LAB)
        entries = flow_entries(lab, mark)
        breaches = [(i, e) for i, e in enumerate(entries) if isinstance(e, Breach) and e.kind in WINS[mistake]]
        through = [(i, e) for i, e in breaches if mistake in e.through]
        if not through:
            if breaches:
                other = sorted(set().union(*(e.through for _, e in breaches)))
                return CheckResult(False, f"your attack won without {mistake} (it went through "
                                          f"{', '.join(other) or 'no mistake'}): it proves something else")
            return CheckResult(False, f"no attack has won through {mistake} since start() (what counts: "
                                      f"{' or '.join(_WON[k] for k in WINS[mistake])}); the rule it breaks: {rule}")
        for i, won in through:
            key = won.key(mistake)  # the same attack: the same redirect URI, PKCE method, session or server
            for replay in entries[i + 1:]:
                if isinstance(replay, Refusal) and replay.reason == reason and mistake not in replay.on \
                        and replay.key == key:
                    return CheckResult(True, f"{_WON[won.kind]} through {mistake}; with it off the same attack was "
                                             f"refused ({replay.detail}): {rule}")
        return CheckResult(False, f"{_WON[through[0][1].kind]} through {mistake} (the flow's log says so); now the "
                                  f"fix: lab.flow.disable({mistake!r}), then replay the very same attack: it must be "
                                  f"refused for {reason}")

    return check


def _mistake(key: str, title: str, goal: str, hints: tuple[str, ...]) -> Challenge:
    return Challenge(f"18.{key}", title, goal + f" Then switch `{key}` off (`lab.flow.disable({key!r})`) and "
                                                "replay the same attack: refused.", hints, check_mistake(key))


CHALLENGES = (
    _mistake("redirect_prefix", "redirect_uri prefix matching",
             "Steal a code of alice's through a `redirect_uri` the server only prefix-matches, and log your own "
             "browser in to the client as alice with it.",
             ("The server compares the start of `redirect_uri` with the client's origin (`lab.flow.client.origin`). "
              "What may follow `http://host:port` in a URL and change where it goes?",
              "`user@host`: everything before `@` is user information. Send the victim a link to the server's "
              "`/authorize`; `lab.flow.attacker.received` shows what reached your site.",
              "Start a login at the client in your own browser and reuse its authorization request (challenge, "
              "state): only `redirect_uri` changes. Then hand the stolen code to the client's `/callback` in your "
              "session.")),
    _mistake("code_injection", "code injection",
             "Inject a stolen code of alice's into your own session at the client, redeemed although it was issued "
             "for another `redirect_uri`.",
             ("The client redeems with its own registered `redirect_uri`; the code was issued for yours.",
              "The same theft as `redirect_prefix`; this time the mistake to prove is at the token endpoint.",
              "Switching `code_injection` off, a fresh code stolen the same way no longer redeems.")),
    _mistake("no_state", "login CSRF",
             "Make alice's browser log in to the client **as mallory** (your account at the server) without her "
             "knowing: a login CSRF.",
             ("Log in at the server as mallory (`MALLORY`), start a login at the client, and stop before the "
              "callback: you hold a code for mallory.",
              "A client without `state` takes any code at its callback; PKCE would still bind the code to your "
              "session, unless the server lets you leave it out.",
              "Send alice the callback URL with your code (`lab.flow.victim.visit`); `lab.flow.victim.me()` says who "
              "she is now.")),
    _mistake("pkce_downgrade", "PKCE downgrade",
             "Make alice's browser log in as mallory through a code issued **without PKCE** (or with `plain`).",
             ("Which parameters of your authorization request bind the code to a browser session?",
              "Drop `code_challenge` (or send it `plain`) and the server still issues a code.",
              "It is the login CSRF again: this time switch `pkce_downgrade` off, keep `no_state` on, and replay.")),
    _mistake("iss_unchecked", "mix-up",
             "The client also logs users in with an authorization server you run (`lab.flow.attacker`, "
             "`?as=other`). Make it send a code that the honest server issued for alice to your token endpoint.",
             ("alice starts a login with your server; your `/as/authorize` may redirect her anywhere.",
              "`lab.flow.attacker.authorize_to` is a function of the request's parameters that returns where to "
              "send her; the honest server's `/authorize` knows this client too.",
              "The honest server's answer names itself in `iss`; a client that never compares it sends the code "
              "to the server its session remembers.")),
    _mistake("open_redirect", "open redirect on the client",
             "Leak a code of alice's to your site through the client's own `/go?to=` redirect.",
             ("The server accepts any `redirect_uri` on the client's origin, and the client has a page that "
              "redirects anywhere.",
              "`/go` keeps the rest of its query when it redirects; the server appends `code` to the redirect URI.",
              "Once `open_redirect` is off, the same link stops at `/go` with 400.")),
)


def at_provider(lab: Lab, **params: str) -> tuple[int, str]:
    """The real provider's answer to an authorization request as alice for ``lab-web`` (its registered redirect URI
    and PKCE S256 unless ``params`` say otherwise): its status and what it said (``code issued``, or its reason)."""
    import httpx
    from authlib.oauth2.rfc7636 import create_s256_code_challenge

    from ...provider.clients import LAB_REDIRECTS

    query = {"response_type": "code", "client_id": "lab-web", "redirect_uri": LAB_REDIRECTS[0], "state": "s",
             "code_challenge": create_s256_code_challenge("v" * 43), "code_challenge_method": "S256",
             "login_hint": "alice", **params}
    query = {k: v for k, v in query.items() if v != ""}  # "" leaves a parameter out
    with httpx.Client(timeout=10, trust_env=False) as http:
        answer = http.get(f"{lab.provider_url}/authorize", params=query)
    if answer.status_code == 302:
        location = httpx.URL(answer.headers["location"])
        said = location.params.get("error_description") or ("code issued" if "code" in location.params else "?")
        return 302, said
    try:
        return answer.status_code, str(answer.json().get("error_description", answer.json().get("error")))
    except ValueError:
        return answer.status_code, answer.text[:200]
