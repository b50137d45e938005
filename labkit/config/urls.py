"""URL checks: endpoints over TLS (loopback excepted), no credentials in a URL, no fragment in a redirect URI."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from .models import OAuth2Config
from .problems import Place

__all__ = ["REGISTRATION", "check_oauth2_urls", "check_url", "is_loopback"]

# The client registration: RFC 6749 §3.1/§3.1.2.1 endpoints over TLS (loopback excepted), RFC 8252 §7.3
REGISTRATION = ("authorization_url", "token_url", "redirect_uri")


def check_url(url: str, place: Place) -> None:
    """An https URL with a host (plain http only on loopback) and no credentials in it."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        place.add("not a valid URL")
        return
    if parts.scheme not in ("https", "http") or not host:
        place.add("expected an https:// URL with a host")
    elif parts.scheme == "http" and not is_loopback(host):
        place.add("must use https:// (plain http is allowed only for localhost, 127.0.0.0/8 and ::1)")
    elif parts.username or parts.password:
        place.add("credentials in the URL are not allowed; use client_id/client_secret")


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_oauth2_urls(oauth2: OAuth2Config, place: Place, keys: tuple[str, ...]) -> None:
    """Check the URL settings ``keys`` of an oauth2 block (those that are set)."""
    for key in keys:
        value = getattr(oauth2, key)
        if value is not None:
            check_url(value, place.at(key))
    if "redirect_uri" in keys and oauth2.redirect_uri and urlsplit(oauth2.redirect_uri).fragment:
        place.at("redirect_uri").add("must not contain a fragment (RFC 6749 §3.1.2)")
