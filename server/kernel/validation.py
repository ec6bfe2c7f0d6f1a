"""Turn an untrusted payload into a validated input model, or an `invalid` naming the field."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from server.kernel.errors import invalid

InputT = TypeVar("InputT", bound=BaseModel)

# The largest id every supported database stores (a PostgreSQL `integer`); a larger one can
# name nothing, and passing it on would fail in the driver instead of answering `invalid`.
MAX_ID = 2**31 - 1

PositiveId = Annotated[int, Field(gt=0, le=MAX_ID)]


def _within_ids(value: int) -> int:
    return min(value, MAX_ID)


# Paging cursors: page back from before an id, or catch up from after one (0: from the
# start). Beyond the largest id a cursor means "from the very end", which is what a client
# passing a huge number intends.
BeforeCursor = Annotated[int, Field(ge=1), AfterValidator(_within_ids)]
SinceCursor = Annotated[int, Field(ge=0), AfterValidator(_within_ids)]


def _utc_time(value: object) -> object:
    if not isinstance(value, str):
        return value  # and strict validation refuses it
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("use a UTC time such as 2026-11-23T00:00:00Z") from None
    if moment.tzinfo is None:
        raise ValueError("give the time in UTC with a Z suffix")
    return moment.astimezone(UTC)


# A time given as text (a query parameter, a JSON string) in ISO 8601 with its offset.
UtcTime = Annotated[datetime, BeforeValidator(_utc_time)]


class InputModel(BaseModel):
    """Base of every request body and event payload.

    Strict, so "5" is not an id and true is not a number; unknown keys are ignored so
    clients may send more than a given server version reads.
    """

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


def describe_validation_error(error: ValidationError) -> str:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "payload"
    if first["type"] == "missing":
        return f"{field}: this field is required."
    reason = first["msg"].rstrip(".")
    reason = reason.removeprefix("Value error, ")
    return f"{field}: {reason}."


def _nul_at(value: Any, path: str) -> str | None:
    """The path of the first string holding a NUL character (U+0000), or None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _nul_at(item, f"{path}.{key}" if path else str(key))
        if found is not None:
            return found
    return None


def parse_input(model: type[InputT], payload: Any) -> InputT:
    if not isinstance(payload, dict):
        raise invalid("The payload must be a JSON object.")
    # PostgreSQL stores no NUL in text, and no person types one: refused before it can fail
    # a write half-way (the fuzz suite found a message body of "\x00").
    nul = _nul_at(payload, "")
    if nul is not None:
        raise invalid(f"{nul}: must not contain the NUL character (U+0000).")
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        raise invalid(describe_validation_error(error)) from None
