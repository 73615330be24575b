"""Credentials never reach a log line, an error message or a printed setting.

One rule for every URL harvest prints (database, Redis, scrapyd) and for the
settings dump Scrapy logs at start.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# Query parameters and libpq keywords that carry a secret.
_SECRET_KEYS = r"(?:ssl)?pass(?:word|wd)?|pwd|secret|token|auth|api[_-]?key"  # noqa: S105 (names, not a password)
_SECRET_PARAM_RE = re.compile(rf"(?i)(^|[&;])({_SECRET_KEYS})=[^&;]*")
_SECRET_KEYWORD_RE = re.compile(rf"(?i)\b({_SECRET_KEYS})(\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)")


def mask_dsn(dsn: str) -> str:
    """The DSN or URL (database, Redis, scrapyd; ``unix://`` too) with every
    password replaced, fit for logs and error messages: the one in the user
    info, secret query parameters, and libpq ``password=`` keywords, quoted or not."""
    text = str(dsn)
    if "://" not in text:
        return _SECRET_KEYWORD_RE.sub(r"\1\2***", text)
    try:
        parts = urlsplit(text)
    except ValueError:
        return "<unparseable DSN>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        if colon:
            netloc = f"{user}:***@{hostport}"
    query = _SECRET_PARAM_RE.sub(r"\1\2=***", parts.query)
    # Put together by hand: urlunsplit would drop the empty host of unix:///path.
    out = f"{parts.scheme}://{netloc}{parts.path}"
    return out + (f"?{query}" if query else "") + (f"#{parts.fragment}" if parts.fragment else "")


_SECRET_SETTING_RE = re.compile(
    r"('[A-Z0-9_]*(?:PASSWORD|SECRET|TOKEN)[A-Z0-9_]*':\s*)(\((?:[^()])*?\)|'[^']*'|\"[^\"]*\")"
)
_URL_SETTING_RE = re.compile(r"('[A-Z0-9_]*(?:_URL|DSN)':\s*)(\((?:[^()])*?\)|'[^']*'|\"[^\"]*\")")


def masked_settings(text: str) -> str:
    """Scrapy's "Overridden settings" dump with passwords and DSNs' passwords masked."""
    text = _SECRET_SETTING_RE.sub(r"\1'***'", text)

    def mask_url(m: re.Match[str]) -> str:
        pieces = re.findall(r"'([^']*)'|\"([^\"]*)\"", m.group(2))
        value = "".join(a or b for a, b in pieces)
        return m.group(1) + repr(mask_dsn(value))

    return _URL_SETTING_RE.sub(mask_url, text)
