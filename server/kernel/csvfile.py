"""CSV exports that clinicians open in spreadsheets."""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel

Query = TypeVar("Query", bound=BaseModel)

# A leading = + - @ (or tab, carriage return) makes a spreadsheet run the cell as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> str:
    """A cell a spreadsheet shows as text: display names, reasons and notes are typed by
    people, and a formula would otherwise run when the file is opened."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_text(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(spreadsheet_safe(cell) for cell in row)
    return buffer.getvalue()


async def paged_csv(
    columns: Sequence[str],
    query: Query,
    page: Callable[[Query], Awaitable[dict[str, Any]]],
    row: Callable[[dict[str, Any]], Sequence[object]],
    max_rows: int,
) -> str:
    """Every entry that matches `query`, page after page, as CSV (up to `max_rows`). `page`
    answers {"entries": [...], "next_before": ...}, newest first; the query's `before` asks for
    the page after, until `next_before` is None."""
    rows: list[Sequence[object]] = []
    while len(rows) < max_rows:
        found = await page(query)
        rows.extend(row(entry) for entry in found["entries"])
        if found["next_before"] is None:
            break
        query = query.model_copy(update={"before": found["next_before"]})
    return csv_text(columns, rows[:max_rows])
