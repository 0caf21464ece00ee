"""The PatchOp envelope the one-pass PATCH readers share (``member_patches``, ``user_patches``).

Each reader decodes a body with msgspec into the envelope around its own
operation structure; a body that is not exactly ``{"schemas": [PatchOp],
"Operations": [...]}`` with at least one operation, or that holds an escaped NUL,
is not theirs to read, and takes the models' way.
"""

from typing import Generic, TypeVar

import msgspec

from scimgate.scim.canonical_bodies import ESCAPED_NUL

PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

Operation = TypeVar("Operation")


class Envelope(
    msgspec.Struct,
    Generic[Operation],
    forbid_unknown_fields=True,
    rename={"operations": "Operations"},
):
    schemas: list[str]
    operations: list[Operation]


def operations_of(
    decoder: "msgspec.json.Decoder[Envelope[Operation]]", body: bytes
) -> list[Operation] | None:
    """The operations of a PATCH body in the shape ``decoder`` reads, else None."""
    if ESCAPED_NUL in body:
        return None
    try:
        patch = decoder.decode(body)
    except msgspec.DecodeError:
        return None
    if patch.schemas != [PATCH_SCHEMA] or not patch.operations:
        return None
    return patch.operations
