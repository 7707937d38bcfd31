"""Identity of articles: canonical URLs and the 16-hex content hash."""

from __future__ import annotations

import hashlib
import unicodedata
from urllib.parse import urljoin, urlsplit, urlunsplit

HASH_HEX_DIGITS = 16


def normalise_text(text: str) -> str:
    """Unicode NFC, whitespace runs collapsed to one space, ends stripped; case is kept."""
    return " ".join(unicodedata.normalize("NFC", text).split())  # str.split's whitespace is re's \s


def content_hash(text: str) -> str:
    """First 16 hex digits of SHA-256 over the normalised text: the article id."""
    digest = hashlib.sha256(normalise_text(text).encode("utf-8")).hexdigest()
    return digest[:HASH_HEX_DIGITS]


def http_url(url: str | None) -> str | None:
    """The URL when it is an absolute http(s) one, else None: ``javascript:``, ``data:`` and the like are never
    stored as an article's place nor rendered as a link."""
    if not url:
        return None
    url = url.strip()
    return url if url.lower().startswith(("http://", "https://")) and len(url) > 8 else None


def canonical_url(url: str) -> str:
    """Clean a URL for comparison: tracking parameters (utm_*, fbclid, gclid …) and fragment removed,
    scheme and host lower-cased, default port dropped, dot segments (``/./``, ``/../``) resolved, query
    parameters sorted. Article and feed URLs alike."""
    import courlan  # loaded when a URL is first cleaned: a command that only reads does not need it

    url = url.strip()
    try:
        cleaned = courlan.normalize_url(url)
    except (ValueError, AttributeError):
        cleaned = url
    parts = urlsplit(cleaned)
    path = urlsplit(urljoin("http://x/", parts.path)).path if "." in parts.path else parts.path
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path or "/", parts.query, ""))
