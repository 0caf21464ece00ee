"""A user's e-mail hash rows, kept with encryption at rest on: what ``emails.value eq`` finds.

The addresses themselves are sealed inside the user's document, so each one's
keyed hash (of its case-folded form, under the newest key) has a row of its own.
"""

from typing import Any

from sqlalchemy import Connection, delete

from scimgate.scim.compare import fold
from scimgate.store.column_codec import ColumnCodec
from scimgate.store.encryption import EMAIL_LOOKUP
from scimgate.store.tables.resources import user_email_hashes


def index_emails(
    conn: Connection,
    codec: ColumnCodec,
    directory_id: str,
    user_id: str,
    doc: dict[str, Any],
    *,
    replacing: bool = False,
) -> None:
    """Store the hash rows of a user's addresses (``replacing``: in place of its old ones)."""
    if replacing:
        conn.execute(delete(user_email_hashes).where(user_email_hashes.c.user_id == user_id))
    hashes = sorted(
        {
            codec.lookup(EMAIL_LOOKUP, directory_id, fold(email["value"]))
            for email in doc.get("emails") or []
            if isinstance(email, dict) and isinstance(email.get("value"), str) and email["value"]
        }
    )
    if hashes:
        conn.execute(
            user_email_hashes.insert(),
            [{"user_id": user_id, "hash": each, "directory_id": directory_id} for each in hashes],
        )
