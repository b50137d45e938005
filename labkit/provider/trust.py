"""Which names and redirect hosts a client that describes itself may claim: the provider's anti-phishing rule.

A client registered by RFC 7591 or described by a client ID metadata document chooses its own ``client_name``
and logo, so a phisher registers "GitHub Copilot" with its own redirect URI, and the consent page shows the name
the user trusts. ``TrustPolicy`` is the one home of the counter-rule, applied at registration and to every
metadata document: (1) a self-registered client redirects to loopback (RFC 8252 §7.3) or to an ``https`` host on
``redirect_hosts``, matched exactly (never by prefix or suffix); (2) a name that looks like a reserved name
(compared by a confusable skeleton, after UTS #39: case, accents, ``1``/``l``/``I``, ``0``/``o``, Cyrillic and
Greek look-alikes, spacing and punctuation do not count; a character no table folds may stand for any letter or
none, as no table lists every look-alike) is allowed only when every redirect host, and a metadata document's own
host, is one of the hosts reserved for that name. East Asian scripts, drawn unlike any Latin letter, are left out.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .models import loopback_redirect_key

__all__ = ["TrustPolicy", "redirect_host", "skeleton"]

_HOST = re.compile(r"(?:[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:.]+\])(?::[1-9][0-9]{0,4})?")
_LOOK_ALIKE = str.maketrans({
    "0": "o", "1": "l", "i": "l", "|": "l", "!": "l", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "$": "s",
    "@": "a",
    # Cyrillic and Greek letters drawn like Latin ones (UTS #39 confusables, the common few), escaped
    "\u0430": "a", "\u0435": "e", "\u043e": "o", "\u0440": "p", "\u0441": "c", "\u0443": "y", "\u0445": "x",
    "\u0456": "l", "\u0458": "j", "\u0455": "s", "\u0501": "d", "\u04bb": "h", "\u0261": "g", "\u03bf": "o",
    "\u03b1": "a", "\u03b9": "l", "\u03ba": "k", "\u03bd": "v", "\u03c4": "t", "\u03c1": "p", "\u03b5": "e",
})
_MIN_SKELETON = 3  # a reserved name shorter than this would reserve half the dictionary


# scripts drawn unlike any Latin letter: their characters are left out of a skeleton, as spacing is
_UNLIKE_LATIN = ("CJK ", "HIRAGANA ", "KATAKANA ", "HALFWIDTH KATAKANA ", "HANGUL ", "HALFWIDTH HANGUL ",
                 "BOPOMOFO ", "IDEOGRAPHIC ")
_UNKNOWN = "?"  # in a skeleton: a character no table folds, which may be drawn as any Latin letter (or as none)


def _unknown(char: str) -> str:
    """``?`` for a character that may be drawn like a Latin letter but that no table folds; "" for one that
    cannot (ASCII punctuation and digits, spacing, invisible format and control characters, East Asian scripts)."""
    if char.isascii() or unicodedata.category(char)[0] in "ZC":
        return ""
    return "" if unicodedata.name(char, "").startswith(_UNLIKE_LATIN) else _UNKNOWN


def skeleton(text: str) -> str:
    """What ``text`` looks like: lowercase Latin letters, look-alikes folded (``Copi1ot`` → ``coplot``), and ``?``
    for each character the look-alike table does not know (UTS #39 lists thousands; no table here lists them all)."""
    folded = "".join(c for c in unicodedata.normalize("NFKD", text).casefold() if not unicodedata.combining(c))
    folded = folded.translate(_LOOK_ALIKE).replace("rn", "m").replace("vv", "w")
    return "".join(c if "a" <= c <= "z" else _unknown(c) for c in folded)


def _looks_like(seen: str, reserved: str) -> bool:
    """Whether some run of ``seen`` (a skeleton) reads as ``reserved`` (Latin letters), each ``?`` in it standing
    for one letter of ``reserved`` or for none."""
    reached: set[int] = set()
    for char in seen:
        reached.add(0)  # a run may start here
        if char == _UNKNOWN:
            reached |= {k + 1 for k in reached if k < len(reserved)}
        else:
            reached = {k + 1 for k in reached if k < len(reserved) and reserved[k] == char}
        if len(reserved) in reached:
            return True
    return False


def redirect_host(uri: str) -> str | None:
    """The host a redirect URI sends codes to: ``host[:port]`` for https (no default port), the bare loopback
    address for a loopback redirect (any port matches it, RFC 8252 §7.3); None for anything else."""
    key = loopback_redirect_key(uri)
    if key is not None:
        return urlsplit(uri).hostname
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme != "https" or not parts.hostname or "@" in parts.netloc:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname.lower()
    return host if port in (None, 443) else f"{host}:{port}"


def _hosts(key: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValueError(f"{key}: a list of exact hosts (e.g. [\"copilot.github.com\"]), not a string")
    hosts = tuple(value)
    for i, host in enumerate(hosts):
        if not isinstance(host, str) or not _HOST.fullmatch(host) or host.endswith(":443"):
            raise ValueError(f"{key}[{i}]: an exact lowercase host or host:port (no scheme, path, wildcard or "
                             "default port), e.g. copilot.github.com")
    return hosts


@dataclass(frozen=True)
class TrustPolicy:
    """Names reserved to their own hosts, and the https hosts a self-registered client may redirect to.

    ``reserved_names``: ``{"GitHub Copilot": ("copilot.github.com",)}``. ``redirect_hosts``: exact hosts.
    Raises ``ValueError`` naming the key for a malformed entry.
    """

    redirect_hosts: tuple[str, ...] = ()
    reserved_names: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        _hosts("redirect_hosts", self.redirect_hosts)
        if not isinstance(self.reserved_names, Mapping):
            raise ValueError("reserved_names: a mapping of name -> exact hosts")
        for name, hosts in self.reserved_names.items():
            if not isinstance(name, str) or len(skeleton(name).replace(_UNKNOWN, "")) < _MIN_SKELETON:
                raise ValueError(f"reserved_names[{name!r}]: a name of at least {_MIN_SKELETON} letters")
            _hosts(f"reserved_names[{name!r}]", hosts)

    def copy(self) -> TrustPolicy:
        """A copy that no later change to the caller's lists or dict can alter."""
        return TrustPolicy(tuple(self.redirect_hosts), {k: tuple(v) for k, v in self.reserved_names.items()})

    def redirect_refusal(self, redirect_uris: Iterable[str]) -> str | None:
        """Why a self-registered client may not redirect to one of ``redirect_uris``; None when it may."""
        for uri in redirect_uris:
            # RFC 8252 §7.3: loopback; else an https host named exactly on redirect_hosts
            if loopback_redirect_key(uri) is None and redirect_host(uri) not in self.redirect_hosts:
                return ("redirect URIs must be http://127.0.0.1 or http://[::1] (any port), or https on a host "
                        "the provider allows (trust.redirect_hosts)")
        return None

    def name_refusal(self, name: str, redirect_uris: Iterable[str], client_id: str | None = None) -> str | None:
        """Why ``name`` may not be claimed by a client redirecting to ``redirect_uris`` (and whose metadata
        document is at ``client_id``); None when it may."""
        seen = skeleton(name)
        hosts = {redirect_host(uri) for uri in redirect_uris}
        if client_id is not None:
            hosts.add(redirect_host(client_id))
        for reserved, owned in self.reserved_names.items():
            # anti-phishing: a name that looks like a reserved one, from a host that is not that app's own
            if _looks_like(seen, skeleton(reserved).replace(_UNKNOWN, "")) and not hosts <= set(owned):
                return f"client_name looks like {reserved!r}, which only its own hosts may register"
        return None
