"""Database URLs without their passwords (catalogue S3).

A URL is shown as ``postgresql://user:***@host/db``; and since a driver's or the engine's
error text may quote the URL it was given, any message built from such an error has the
password cut out too before it reaches a user, a log or a job record.
"""

from __future__ import annotations

from urllib.parse import quote, quote_plus

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

__all__ = ["redact", "redact_url"]

_MASK = "***"


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (unparseable: the scheme only)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return url.split(":", 1)[0] + "://" + _MASK


def redact(error: object, *urls: str) -> str:
    """The text of ``error`` with the password of every URL in ``urls`` masked."""
    text = str(error)
    for url in urls:
        text = text.replace(url, redact_url(url))
        for secret in _secrets(url):
            text = text.replace(secret, _MASK)
    return text


def _secrets(url: str) -> list[str]:
    try:
        password = make_url(url).password
    except (ArgumentError, ValueError):
        return []
    if not password:
        return []
    raw = str(password)
    # longest first, so the quoted form is not half-masked by the plain one
    return sorted({raw, quote(raw, safe=""), quote_plus(raw)}, key=len, reverse=True)
