"""The document and indexed columns of a user's and a group's row, as stored.

The indexed columns hold what identity providers look up: the names, and their
case-folded forms in the lookup columns. Through a sealed codec (encryption at
rest on) the document and the names are encrypted and the lookup columns hold
keyed hashes under the newest key.
"""

from typing import Any

from scimgate.scim.compare import fold
from scimgate.store.column_codec import ColumnCodec
from scimgate.store.encryption import (
    GROUP_EXTERNAL_ID_LOOKUP,
    GROUP_NAME_LOOKUP,
    USER_EXTERNAL_ID_LOOKUP,
    USER_NAME_LOOKUP,
)


def user_columns(
    codec: ColumnCodec, directory_id: str, user_id: str, doc: dict[str, Any]
) -> dict[str, Any]:
    user_name = doc["userName"]
    return {
        "doc": codec.seal_document(doc, "users.doc", directory_id, user_id),
        "user_name": codec.seal(user_name, "users.user_name", directory_id, user_id),
        "user_name_key": codec.lookup(USER_NAME_LOOKUP, directory_id, fold(user_name)),
        "external_id": codec.lookup_optional(
            USER_EXTERNAL_ID_LOOKUP, directory_id, doc.get("externalId")
        ),
        "display_name": codec.seal_optional(
            doc.get("displayName"), "users.display_name", directory_id, user_id
        ),
        "active": doc.get("active"),
    }


def group_columns(
    codec: ColumnCodec, directory_id: str, group_id: str, doc: dict[str, Any]
) -> dict[str, Any]:
    display_name = doc["displayName"]
    return {
        "doc": codec.seal_document(doc, "groups.doc", directory_id, group_id),
        "display_name": codec.seal(display_name, "groups.display_name", directory_id, group_id),
        "display_name_key": codec.lookup(GROUP_NAME_LOOKUP, directory_id, fold(display_name)),
        "external_id": codec.lookup_optional(
            GROUP_EXTERNAL_ID_LOOKUP, directory_id, doc.get("externalId")
        ),
    }
