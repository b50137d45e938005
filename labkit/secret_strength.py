"""What a string test can say about an HMAC secret, and what it cannot.

Entropy belongs to the generator, not to the string: ``secrets.token_urlsafe(32)`` can print any string of its
alphabet, a keyboard walk included, so no test of one string measures how it was made. This module therefore
refuses only what it can prove: a secret that is not the encoding of enough random bytes (hex or base64, as
``secrets.token_hex``/``token_urlsafe`` and ``openssl rand -hex/-base64`` write them), and patterns that a uniform
generator of that alphabet produces with probability under ``FALSE_ALARM`` (a teaching aid, not the rule: a secret
that passes is not thereby random). Messages never repeat the secret.
"""

from __future__ import annotations

import functools
import itertools
import math
import string

__all__ = ["FALSE_ALARM", "random_bytes", "secret_problem"]

FALSE_ALARM = 2.0**-40  # each pattern test refuses a genuine generator's output less often than this
_ANALYSED = 512  # characters looked at (a prefix of random output is random: the bound still holds)
_HEX = frozenset("0123456789abcdef")
_URLSAFE = frozenset(string.ascii_letters + string.digits + "-_")
_STANDARD = frozenset(string.ascii_letters + string.digits + "+/")
# sequences a person types or builds: neighbours in them are "predictable" steps
_SEQUENCES = ("abcdefghijklmnopqrstuvwxyz", "0123456789abcdef", "1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm")
_CLASSES = {"lowercase letters": set(string.ascii_lowercase), "uppercase letters": set(string.ascii_uppercase),
            "digits": set(string.digits), "separators": set("-_+/")}


def random_bytes(secret: str) -> tuple[str, int] | None:
    """How the secret is encoded and how many bytes it can carry: ``("hex", n)``, ``("base64", n)``, or None when
    it is neither (a password, a passphrase with spaces)."""
    if secret and len(secret) % 2 == 0 and set(secret.lower()) <= _HEX and (secret.islower() or secret.isupper()
                                                                              or secret.isdigit()):
        return "hex", len(secret) // 2
    body = secret.rstrip("=")
    padding = len(secret) - len(body)
    if not body or padding > 2 or len(body) % 4 == 1:
        return None
    if padding and (len(secret) % 4 or not set(body) <= _STANDARD):
        return None
    if set(body) <= _URLSAFE or set(body) <= _STANDARD:
        return "base64", len(body) * 6 // 8
    return None


def secret_problem(secret: str, min_bytes: int) -> str | None:
    """Why ``secret`` is provably unfit as an HMAC key of ``min_bytes`` (RFC 7518 §3.2, RFC 8725 §3.5), or None
    when no test here can show it (which proves nothing about its source)."""
    shape = random_bytes(secret)
    if shape is None:
        return ("not the output of a random generator: not hex or base64 (a password or passphrase?). RFC 8725 "
                "§3.5: a key must come from a random generator, and no test of the string can measure that")
    encoding, size = shape
    if size < min_bytes:
        per = "4 bits" if encoding == "hex" else "6 bits"
        return (f"{encoding} of at most {size} random bytes ({per} a character); RFC 7518 §3.2 needs a key of at "
                f"least {min_bytes} bytes for this algorithm: secrets.token_urlsafe({min_bytes}) or "
                f"secrets.token_hex({min_bytes})")
    symbols = secret.rstrip("=")[:_ANALYSED]
    alphabet = _HEX if encoding == "hex" else (_URLSAFE if set(symbols) <= _URLSAFE else _STANDARD)
    if encoding == "hex":
        symbols = symbols.lower()
    return _pattern(symbols, alphabet)


def _pattern(symbols: str, alphabet: frozenset[str]) -> str | None:
    """A pattern a uniform generator over ``alphabet`` would show with probability under ``FALSE_ALARM``."""
    n, size = len(symbols), len(alphabet)
    unlikely = " (a random generator does that less than once in 2^40 tries): typed or built, not generated"
    used = [name for name, members in _CLASSES.items() if set(symbols) & members]
    covered = set().union(*(_CLASSES[name] for name in used)) & alphabet if used else set()
    if len(covered) < size and (len(covered) / size) ** n < FALSE_ALARM:
        return f"uses only {' and '.join(used)} of its alphabet of {size}" + unlikely
    follow, p = _follow(alphabet)
    steps = sum(b in follow[a] for a, b in itertools.pairwise(symbols))
    if _tail(n - 1, steps, p) < FALSE_ALARM / 2:
        return f"{steps} of its {n - 1} steps repeat a character or follow the alphabet or a keyboard row" + unlikely
    for period in range(1, n // 2 + 1):
        same = sum(symbols[i] == symbols[i + period] for i in range(n - period))
        if same > 2 * (n - period) / size and _tail(n - period, same, 1 / size) * (n // 2) < FALSE_ALARM / 2:
            return f"repeats itself every {period} characters" + unlikely
    return None


@functools.cache
def _follow(alphabet: frozenset[str]) -> tuple[dict[str, frozenset[str]], float]:
    """Each symbol's predictable successors (itself, its neighbours in a sequence), and the largest share of the
    alphabet they make up: the chance that a uniform generator takes a predictable step."""
    follow: dict[str, frozenset[str]] = {}
    for c in alphabet:
        found = {c}
        for sequence in _SEQUENCES:
            for seq in (sequence, sequence.upper()):
                i = seq.find(c)
                if i >= 0:
                    found.update(seq[j] for j in (i - 1, i + 1) if 0 <= j < len(seq))
        follow[c] = frozenset(found & alphabet)
    return follow, max(len(s) for s in follow.values()) / len(alphabet)


def _tail(trials: int, at_least: int, p: float) -> float:
    """P(X >= at_least) for X ~ Binomial(trials, p)."""
    if at_least <= 0:
        return 1.0
    if at_least > trials:
        return 0.0
    return sum(math.exp(math.lgamma(trials + 1) - math.lgamma(j + 1) - math.lgamma(trials - j + 1)
                        + j * math.log(p) + (trials - j) * math.log1p(-p)) for j in range(at_least, trials + 1))

