"""The validated input of a message search (GET /api/search)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field as InputField
from pydantic import StringConstraints

from server.kernel.validation import BeforeCursor, InputModel, PositiveId

# Contract limits (docs/protocol-additions.md, "Search").
MAX_QUERY_CHARS = 200
MAX_QUERY_WORDS = 8
SEARCH_DEFAULT_LIMIT = 20
SEARCH_MAX_LIMIT = 50


class SearchQuery(InputModel):
    """The query string of GET /api/search, its numbers converted to integers."""

    q: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_QUERY_CHARS)
    ] = InputField(
        description=f"The words to find, at most {MAX_QUERY_WORDS}: every one of them, in any"
        " case; the last also as the start of a longer word when it has three letters or more."
    )
    room_id: PositiveId | None = InputField(
        default=None, description="Only this room (otherwise every room I may read)."
    )
    before: BeforeCursor | None = InputField(
        default=None,
        description="Only messages older than this id: a previous page's `next_before`.",
    )
    limit: Annotated[int, InputField(ge=1, le=SEARCH_MAX_LIMIT)] = SEARCH_DEFAULT_LIMIT
