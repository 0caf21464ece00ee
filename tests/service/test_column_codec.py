"""The column codec: the one place the store decides how a value is stored and read back.

The plain codec stores values as they are; the sealed one encrypts personal values
and stores keyed hashes in lookup columns. These tests run the store on an SQLite
file of their own, once through an engine with keys and once through one without,
and read the raw rows behind the store's back.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from scimgate.scim.compare import fold
from scimgate.service.administration import tenants
from scimgate.store import offboarding
from scimgate.store.column_codec import PLAIN, SealedColumns, codec_of
from scimgate.store.encryption import (
    EMAIL_LOOKUP,
    USER_NAME_LOOKUP,
    EncryptionError,
    Keyring,
    new_key_line,
)
from scimgate.store.engine import open_engine
from scimgate.store.ids import new_id, utcnow
from scimgate.store.migrate import upgrade
from scimgate.store.name_lookups import user_name_holder
from scimgate.store.resource_tables import USERS
from scimgate.store.stored_resources import StoredResource
from scimgate.store.tables.offboarding import user_tombstones
from scimgate.store.tables.resources import user_email_hashes, users
from scimgate.store.transactions import reading, writing

KEY = new_key_line("A")

PERSON = {
    "userName": "Ondine.Trevelyan@Sample-Harbour.test",
    "externalId": "ext-Ondine-41",
    "displayName": "Ondine Trevelyan",
    "emails": [{"value": "Ondine.T@Mailbox-Harbour.test", "type": "work"}],
}


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[tuple[Engine, Engine]]:
    """A plain engine and a sealed one, on the same new SQLite file."""
    url = f"sqlite:///{tmp_path / 'codec.db'}"
    plain = open_engine(url)
    upgrade(plain)
    sealed = open_engine(url, encryption_keys=[KEY])
    yield plain, sealed
    sealed.dispose()
    plain.dispose()


def _directory(engine: Engine) -> str:
    organization = tenants.create_organization(engine, "codec")
    return tenants.create_directory(engine, organization.id, "d").directory.id


def _sealed_codec() -> SealedColumns:
    keyring = Keyring.parse([KEY])
    assert keyring is not None
    return SealedColumns(keyring)


def test_the_plain_codec_stores_values_as_they_are_and_refuses_sealed_documents() -> None:
    assert not PLAIN.sealed
    assert PLAIN.seal("Ondine", "users.user_name", "d", "u") == "Ondine"
    assert PLAIN.open("Ondine", "users.user_name", "d", "u") == "Ondine"
    assert PLAIN.seal_optional(None, "users.display_name", "d", "u") is None
    assert PLAIN.seal_document(PERSON, "users.doc", "d", "u") is PERSON
    assert PLAIN.open_document(PERSON, "users.doc", "d", "u") is PERSON
    assert PLAIN.lookup(USER_NAME_LOOKUP, "d", "ondine") == "ondine"
    assert PLAIN.lookup_optional(USER_NAME_LOOKUP, "d", None) is None
    assert PLAIN.lookups(USER_NAME_LOOKUP, "d", "ondine") == ["ondine"]
    # A document is a JSON object, so stored text is one sealed and read without keys...
    sealed = _sealed_codec().seal_document(PERSON, "users.doc", "d", "u")
    with pytest.raises(EncryptionError, match="SCIMGATE_ENCRYPTION_KEYS is empty"):
        PLAIN.open_document(sealed, "users.doc", "d", "u")
    # ...but a logged body may be any JSON value, a string included.
    assert PLAIN.open_value("a body", "provisioning_logs.request_body", "d", "l") == "a body"


def test_the_sealed_codec_encrypts_bound_to_the_place_and_hashes_lookups() -> None:
    codec = _sealed_codec()
    assert codec.sealed
    sealed = codec.seal("Ondine", "users.user_name", "d", "u")
    assert sealed.startswith("v1:A:") and "Ondine" not in sealed
    assert codec.open(sealed, "users.user_name", "d", "u") == "Ondine"
    with pytest.raises(EncryptionError, match="does not decrypt"):
        codec.open(sealed, "users.user_name", "d", "another user")
    document = codec.seal_document(PERSON, "users.doc", "d", "u")
    assert codec.open_document(document, "users.doc", "d", "u") == PERSON
    # A document written before encryption was on is read as it is.
    assert codec.open_document(PERSON, "users.doc", "d", "u") is PERSON
    body = codec.seal_document("a body", "provisioning_logs.request_body", "d", "l")
    assert codec.open_value(body, "provisioning_logs.request_body", "d", "l") == "a body"
    stored = codec.lookup(USER_NAME_LOOKUP, "d", "ondine")
    assert stored.startswith("h:") and stored != "ondine"
    assert codec.lookup(USER_NAME_LOOKUP, "d", "") == ""
    assert codec.lookup_optional(USER_NAME_LOOKUP, "d", None) is None
    # What a query asks for: the hash under every key, then the plain value (rows not
    # encrypted yet).
    assert codec.lookups(USER_NAME_LOOKUP, "d", "ondine") == [stored, "ondine"]


def test_the_codec_follows_the_engine(engines: tuple[Engine, Engine]) -> None:
    plain, sealed = engines
    with reading(plain) as conn:
        assert codec_of(conn) is PLAIN
    with reading(sealed) as conn:
        assert codec_of(conn).sealed


def test_a_user_stored_sealed_holds_no_plaintext_and_reads_back(
    engines: tuple[Engine, Engine],
) -> None:
    plain, sealed = engines
    directory_id = _directory(sealed)
    user = StoredResource.new(new_id(), PERSON, utcnow())
    with writing(sealed) as conn:
        USERS.insert(conn, directory_id, user)
    codec = _sealed_codec()
    with reading(plain) as conn:
        row = conn.execute(select(users).where(users.c.id == user.id)).one()
        hashes = conn.execute(
            select(user_email_hashes.c.hash).where(user_email_hashes.c.user_id == user.id)
        ).scalars()
        assert list(hashes) == [
            codec.lookup(EMAIL_LOOKUP, directory_id, fold(PERSON["emails"][0]["value"]))
        ]
        with pytest.raises(EncryptionError, match="is encrypted"):
            USERS.get(conn, directory_id, user.id)
    raw = " ".join(str(value) for value in row)
    for personal in ("Ondine", "Trevelyan", "Harbour", "ext-Ondine-41"):
        assert personal not in raw
    assert row.user_name_key == codec.lookup(
        USER_NAME_LOOKUP, directory_id, fold(PERSON["userName"])
    )
    with reading(sealed) as conn:
        read = USERS.get(conn, directory_id, user.id)
        assert read is not None and read.doc == PERSON
        assert user_name_holder(conn, directory_id, PERSON["userName"].upper()) == user.id


def test_a_user_stored_plain_is_kept_as_it_is_and_found_once_encryption_is_on(
    engines: tuple[Engine, Engine],
) -> None:
    plain, sealed = engines
    directory_id = _directory(plain)
    user = StoredResource.new(new_id(), PERSON, utcnow())
    with writing(plain) as conn:
        USERS.insert(conn, directory_id, user)
    with reading(plain) as conn:
        row = conn.execute(select(users).where(users.c.id == user.id)).one()
        hashes = conn.execute(
            select(user_email_hashes.c.hash).where(user_email_hashes.c.user_id == user.id)
        ).all()
    assert (row.user_name, row.user_name_key) == (PERSON["userName"], fold(PERSON["userName"]))
    assert (row.external_id, row.display_name, row.doc) == (
        PERSON["externalId"],
        PERSON["displayName"],
        PERSON,
    )
    assert hashes == []
    with reading(sealed) as conn:
        read = USERS.get(conn, directory_id, user.id)
        assert read is not None and read.doc == PERSON
        assert user_name_holder(conn, directory_id, PERSON["userName"].lower()) == user.id


def test_a_tombstone_is_sealed_and_opened_through_the_same_codec(
    engines: tuple[Engine, Engine],
) -> None:
    plain, sealed = engines
    directory_id = _directory(sealed)
    user_id = new_id()
    with writing(sealed) as conn:
        offboarding.bury(conn, directory_id, user_id, PERSON["userName"], None, PERSON, utcnow())
    with reading(plain) as conn:
        row = conn.execute(
            select(user_tombstones).where(user_tombstones.c.user_id == user_id)
        ).one()
    assert row.external_id is None
    assert row.user_name.startswith("v1:A:") and row.last_state.startswith("v1:A:")
    with reading(sealed) as conn:
        assert offboarding.tombstone(conn, directory_id, user_id) == PERSON
