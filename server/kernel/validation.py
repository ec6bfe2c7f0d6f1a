"""Turn an untrusted payload into a validated input model, or an `invalid` naming the field."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from server.kernel.errors import invalid

InputT = TypeVar("InputT", bound=BaseModel)


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


def parse_input(model: type[InputT], payload: Any) -> InputT:
    if not isinstance(payload, dict):
        raise invalid("The payload must be a JSON object.")
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        raise invalid(describe_validation_error(error)) from None
