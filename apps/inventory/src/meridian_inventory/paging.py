"""Page sizes and opaque page tokens for the List methods."""

from __future__ import annotations

import base64
import binascii

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
_PREFIX = "v1:"


def encode_token(last_key: str) -> str:
    """A token for the page after last_key. Versioned so its format can change compatibly."""
    return base64.urlsafe_b64encode((_PREFIX + last_key).encode()).decode()


def decode_token(token: str) -> str:
    """The key a token resumes after; ValueError for a token this service did not issue."""
    if not token:
        return ""
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError("is not a page token returned by this service") from None
    if not text.startswith(_PREFIX):
        raise ValueError("is not a page token returned by this service")
    return text[len(_PREFIX) :]
