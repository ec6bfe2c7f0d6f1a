"""Web links people are sent to (a meeting's video room): parsed with a real URL parser, not
matched by prefix, because the link goes into calendar files and notices as it is."""

from __future__ import annotations

from pydantic import HttpUrl, ValidationError

MAX_LINK_CHARS = 500


def link_problem(value: str) -> str | None:
    """What is wrong with `value` as an https link to give people; None when it is fine."""
    if len(value) > MAX_LINK_CHARS:
        return f"use a link of at most {MAX_LINK_CHARS} characters"
    # The WHATWG parser drops tabs and line breaks silently; they must not reach an ICS line.
    if any(ch.isspace() or ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in value):
        return "a link may not contain spaces, line breaks or control characters"
    try:
        url = HttpUrl(value)
    except ValidationError:
        return "not a valid web link"
    if url.scheme != "https" or not url.host:
        return "use an https:// link to the video room"
    if url.username or url.password:
        return "a link may not carry a user name or password"
    return None
