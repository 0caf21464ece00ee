"""Shapes several resources of the management API share: a display name, a record, a listing,
the answer to a removal."""

from typing import Annotated, Generic, TypeVar

from fastapi import Response
from pydantic import BaseModel, ConfigDict, StringConstraints
from scim2_models import NotFoundException

Name = Annotated[
    str,
    StringConstraints(
        min_length=1,
        max_length=200,
        pattern=r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$",
    ),
]
"""A display name: 1 to 200 characters, not blank, no control characters."""

T = TypeVar("T")


class Record(BaseModel):
    """An answer read from the attributes of a stored row."""

    model_config = ConfigDict(from_attributes=True)


class Listing(BaseModel, Generic[T]):
    data: list[T]


def removal(removed: bool, missing: str) -> Response:
    """The answer to a removal: 204 once done, a 404 saying ``missing`` if nothing was there."""
    if not removed:
        raise NotFoundException(detail=missing)
    return Response(status_code=204)
