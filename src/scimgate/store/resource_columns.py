"""The indexed columns of a user's and a group's row, derived from its document.

Plain, they hold what identity providers look up (the case-folded ``userName``
and ``displayName`` among them); sealed (encryption at rest on), the names are
encrypted and the lookup columns hold keyed hashes under the newest key.
"""

from typing import Any

from scimgate.scim.compare import fold
from scimgate.store.encryption import (
    GROUP_EXTERNAL_ID_LOOKUP,
    GROUP_NAME_LOOKUP,
    USER_EXTERNAL_ID_LOOKUP,
    USER_NAME_LOOKUP,
    Keyring,
)


def user_columns(doc: dict[str, Any]) -> dict[str, Any]:
    user_name = doc["userName"]
    return {
        "user_name": user_name,
        "user_name_key": fold(user_name),
        "external_id": doc.get("externalId"),
        "display_name": doc.get("displayName"),
        "active": doc.get("active"),
    }


def sealed_user_columns(
    keyring: Keyring, directory_id: str, user_id: str, doc: dict[str, Any]
) -> dict[str, Any]:
    """A user's document and every column of its row (encrypted, or keyed hashes)."""
    user_name = doc["userName"]
    return {
        "doc": keyring.seal_document(doc, "users.doc", directory_id, user_id),
        "user_name": keyring.seal(user_name, "users.user_name", directory_id, user_id),
        "user_name_key": keyring.lookup(USER_NAME_LOOKUP, directory_id, fold(user_name)),
        "external_id": keyring.lookup(USER_EXTERNAL_ID_LOOKUP, directory_id, doc.get("externalId")),
        "display_name": keyring.seal_optional(
            doc.get("displayName"), "users.display_name", directory_id, user_id
        ),
        "active": doc.get("active"),
    }


def group_columns(doc: dict[str, Any]) -> dict[str, Any]:
    display_name = doc["displayName"]
    return {
        "display_name": display_name,
        "display_name_key": fold(display_name),
        "external_id": doc.get("externalId"),
    }


def sealed_group_columns(
    keyring: Keyring, directory_id: str, group_id: str, doc: dict[str, Any]
) -> dict[str, Any]:
    """A group's document and every column of its row (encrypted, or keyed hashes)."""
    display_name = doc["displayName"]
    return {
        "doc": keyring.seal_document(doc, "groups.doc", directory_id, group_id),
        "display_name": keyring.seal(display_name, "groups.display_name", directory_id, group_id),
        "display_name_key": keyring.lookup(GROUP_NAME_LOOKUP, directory_id, fold(display_name)),
        "external_id": keyring.lookup(
            GROUP_EXTERNAL_ID_LOOKUP, directory_id, doc.get("externalId")
        ),
    }
