"""Shapes several resources of the management API share: a display name, a record, a listing,
the answer to a removal."""

from collections.abc import Iterable
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


R = TypeVar("R", bound=Record)


def listing(model: type[R], rows: Iterable[object]) -> Listing[R]:
    """Stored rows as a listing of ``model``, each read from its row's attributes."""
    return Listing(data=[model.model_validate(row) for row in rows])


def removal(removed: bool, missing: str) -> Response:
    """The answer to a removal: 204 once done, a 404 saying ``missing`` if nothing was there."""
    if not removed:
        raise NotFoundException(detail=missing)
    return Response(status_code=204)
