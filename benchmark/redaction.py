"""Keep passwords in URLs out of messages, logs, params and tags; imports nothing of the project."""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

MASK = "***"
# Query parameters (and libpq "key=value" words) whose value is a secret.
SECRET_KEYS = ("password", "passwd", "pwd", "secret", "token", "api_key", "apikey", "sslpassword")
_SECRET_PAIR = re.compile(
    r"(?i)(?P<key>\b(?:" + "|".join(SECRET_KEYS) + r"))(?P<eq>\s*=\s*)(?P<value>[^&;\s'\"]+)"
)
# scheme://userinfo@host...: the userinfo ends at the LAST "@" before the path, so an
# unescaped "@" inside a password stays inside the part that is masked.
_URL = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<rest>[^\s'\"<>]+)")


def _userinfo(rest: str) -> tuple[str, str] | None:
    """(userinfo, what follows it from "@" on) of the part after scheme://, or None."""
    slash = rest.find("/")
    head = rest if slash == -1 else rest[:slash]
    # An "@" before the first "/" ends the userinfo at the last such "@" (a password may hold
    # "@"); with none there, a password holding "/" ends at the first "@".
    at = head.rfind("@") if "@" in head else rest.find("@")
    return None if at == -1 else (rest[:at], rest[at:])


def _mask_netloc(rest: str) -> str:
    """The part after scheme:// with the password of its userinfo masked."""
    split = _userinfo(rest)
    if split is None or ":" not in split[0]:
        return rest
    return split[0].partition(":")[0] + ":" + MASK + split[1]


def redact_url(url: str) -> str:
    """The URL with the password of its userinfo and any secret query value replaced by ***."""
    return redact_text(url)


def redact_text(text: str, *urls: str) -> str:
    """Text with every secret of the URLs in it, and of `urls` wherever it recurs, masked."""
    for secret in sorted(_secrets(text, *urls), key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = _URL.sub(lambda m: m.group("scheme") + _mask_netloc(m.group("rest")), text)
    return _SECRET_PAIR.sub(lambda m: m.group("key") + m.group("eq") + MASK, text)


def _secrets(*texts: str) -> set[str]:
    """Every password found in the texts, as written, percent-decoded and percent-encoded."""
    found: set[str] = set()
    for text in texts:
        for match in _URL.finditer(text):
            split = _userinfo(match.group("rest"))
            if split is not None and ":" in split[0]:
                found.add(split[0].partition(":")[2])
        found.update(match.group("value") for match in _SECRET_PAIR.finditer(text))
    variants = set()
    for secret in found - {"", MASK}:
        variants |= {secret, unquote(secret), quote(secret, safe="")}
        # A driver that splits "u:se@cret@h" at the first "@" echoes "cret@h" as a host name.
        variants |= set(re.split(r"[@:/]", secret))
    return {secret for secret in variants if len(secret) >= 3}
