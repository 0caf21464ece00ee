"""Shapes several resources of the management API share: a display name, a record, a listing."""

from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, StringConstraints

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
