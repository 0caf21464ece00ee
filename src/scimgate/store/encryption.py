"""Field-level encryption at rest: AES-256-GCM values and keyed hashes for equality lookups.

A ``Keyring`` holds the data keys of ``SCIMGATE_ENCRYPTION_KEYS``, newest first.
The newest encrypts; every key decrypts, so a key is retired only after
``scimgate encryption rotate`` has re-encrypted what it protected.

An encrypted value is text: ``v1:<key id>:<base64url(nonce | ciphertext | tag)>``,
with a fresh random 96-bit nonce per value and associated data naming where the
value lives (table, column, directory, row), so that a value copied to another
row or another directory does not decrypt.

Equality lookups (``userName``, ``externalId``, ``emails.value``, group
``displayName``) go through keyed hashes: HMAC-SHA256 under a lookup key derived
from each data key (HKDF, its own label), over the directory, the attribute and
the value in its comparison form. A lookup asks for the hash under every key,
so rows not yet rotated still match.

The keyring belongs to the engine (``attach``), so that store functions keep
their signatures and a database without encryption pays one dictionary lookup.
"""

import base64
import binascii
import hashlib
import hmac
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, Generic, NoReturn, TypeVar
from weakref import WeakKeyDictionary

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Connection, Engine

from scimgate.logging import OperatorError
from scimgate.records import frozen
from scimgate.scim import jsontext

PREFIX = "v1:"
"""Every encrypted value starts with this (the format's version)."""

_LOOKUP_LABEL = b"scimgate lookup hash v1"

USER_NAME_LOOKUP = "User:userName"
USER_EXTERNAL_ID_LOOKUP = "User:externalId"
EMAIL_LOOKUP = "User:emails.value"
GROUP_NAME_LOOKUP = "Group:displayName"
GROUP_EXTERNAL_ID_LOOKUP = "Group:externalId"
LOG_USER_NAME_LOOKUP = "Log:userName"
"""What each keyed hash is of: part of the hashed text, so equal values differ by attribute."""
_NONCE_BYTES = 12
KEY_BYTES = 32


class EncryptionError(OperatorError):
    """A key that cannot be used, or a stored value that cannot be decrypted.

    Its messages name keys, places and row ids, never a value, so the log keeps them.
    """


@frozen
class DataKey:
    """One configured key: its id, its cipher and the lookup key derived from it."""

    id: str
    cipher: AESGCM
    lookup_key: bytes


def new_key_line(key_id: str) -> str:
    """A fresh ``<key id>:<base64 key>`` entry for ``SCIMGATE_ENCRYPTION_KEYS``."""
    _check_key_id(key_id)
    return f"{key_id}:{base64.b64encode(os.urandom(KEY_BYTES)).decode()}"


def _check_key_id(key_id: str) -> None:
    if not key_id or not all(ch.isalnum() or ch in "-_." for ch in key_id):
        raise EncryptionError(
            f"encryption key id {key_id!r} must be non-empty letters, digits, '-', '_' or '.'"
        )


def _data_key(entry: str) -> DataKey:
    key_id, sep, encoded = entry.partition(":")
    key_id = key_id.strip()
    if not sep:
        raise EncryptionError(
            f"SCIMGATE_ENCRYPTION_KEYS: entry {key_id[:8]!r}… is not '<key id>:<base64 key>'"
        )
    _check_key_id(key_id)
    try:
        secret = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise EncryptionError(
            f"SCIMGATE_ENCRYPTION_KEYS: key {key_id!r} is not valid base64"
        ) from None
    if len(secret) != KEY_BYTES:
        raise EncryptionError(
            f"SCIMGATE_ENCRYPTION_KEYS: key {key_id!r} is {len(secret)} bytes, not {KEY_BYTES} "
            "(make one with `scimgate encryption new-key`)"
        )
    lookup_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_LOOKUP_LABEL).derive(
        secret
    )
    return DataKey(key_id, AESGCM(secret), lookup_key)


def _aad(place: str, directory_id: str, row_id: str) -> bytes:
    return f"scimgate|{place}|{directory_id}|{row_id}".encode()


class Keyring:
    """The configured data keys, newest first."""

    def __init__(self, keys: Sequence[DataKey]) -> None:
        self.keys = tuple(keys)
        self.newest = self.keys[0]
        self._by_id = {key.id: key for key in self.keys}

    @classmethod
    def parse(cls, entries: Sequence[str]) -> "Keyring | None":
        """The keyring of the configured entries; None when there are none (encryption off)."""
        keys = [_data_key(entry) for entry in entries if entry.strip()]
        if not keys:
            return None
        seen: set[str] = set()
        for key in keys:
            if key.id in seen:
                raise EncryptionError(f"SCIMGATE_ENCRYPTION_KEYS: key id {key.id!r} appears twice")
            seen.add(key.id)
        return cls(keys)

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(key.id for key in self.keys)

    # --- Values --------------------------------------------------------------------

    def seal(self, text: str, place: str, directory_id: str, row_id: str) -> str:
        """``text`` encrypted under the newest key, bound to where it is stored."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self.newest.cipher.encrypt(nonce, text.encode(), _aad(place, directory_id, row_id))
        body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{PREFIX}{self.newest.id}:{body}"

    def open(self, value: str, place: str, directory_id: str, row_id: str) -> str:
        """The plaintext of an encrypted value; a value written before encryption as it is."""
        if not value.startswith(PREFIX):
            return value
        key_id, _, body = value[len(PREFIX) :].partition(":")
        key = self._by_id.get(key_id)
        if key is None:
            raise EncryptionError(
                f"a stored {place} value is encrypted under key id {key_id!r}, which "
                f"SCIMGATE_ENCRYPTION_KEYS does not hold (it holds {', '.join(self.key_ids)})"
            )
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            plain = key.cipher.decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _aad(place, directory_id, row_id)
            )
        except (InvalidTag, ValueError, binascii.Error):
            raise EncryptionError(
                f"a stored {place} value (directory {directory_id}, row {row_id}) does not "
                f"decrypt with key {key_id!r}: the key is not the one it was written with, "
                "or the value was altered or moved"
            ) from None
        return plain.decode()

    def seal_document(self, doc: Any, place: str, directory_id: str, row_id: str) -> str:
        """A JSON document encrypted as one text value (stored as a JSON string)."""
        return self.seal(jsontext.dumps(doc), place, directory_id, row_id)

    def open_document(self, stored: Any, place: str, directory_id: str, row_id: str) -> Any:
        """The document back; one written before encryption (not a string) as it is."""
        if isinstance(stored, str):
            return jsontext.loads(self.open(stored, place, directory_id, row_id))
        return stored

    def key_id_of(self, value: Any) -> str | None:
        """Which key an encrypted value is under; None for a plain value."""
        return key_id_of(value)

    # --- Lookups -------------------------------------------------------------------

    def lookups(
        self, attribute: str, directory_id: str, value: str, *, plain: bool = True
    ) -> list[str]:
        """The keyed hash of a value under every key, then (``plain``) the value itself.

        ``value`` is already in comparison form (case-folded where the attribute is
        case-insensitive). The plain value finds rows written before encryption was
        turned on and not rotated yet; it is only ever sent, never stored.
        """
        hashes = [_hash(key, attribute, directory_id, value) for key in self.keys]
        return [*hashes, value] if plain else hashes

    def lookup(self, attribute: str, directory_id: str, value: str | None) -> str | None:
        """The keyed hash stored in a lookup column: under the newest key; "" stays ""."""
        if value is None or value == "":
            return value
        return _hash(self.newest, attribute, directory_id, value)


def _hash(key: DataKey, attribute: str, directory_id: str, value: str) -> str:
    message = f"{directory_id}\x00{attribute}\x00{value}".encode()
    digest = hmac.new(key.lookup_key, message, hashlib.sha256).digest()
    return "h:" + base64.urlsafe_b64encode(digest).decode().rstrip("=")


Position = TypeVar("Position")


@frozen
class Resealed(Generic[Position]):
    """One batch of a rotation: the last position it reached (None: the rows are done), and
    how many rows it changed."""

    last: Position | None
    changed: int


def key_id_of(value: Any) -> str | None:
    """Which key an encrypted value is under; None for a plain (or absent) value."""
    if isinstance(value, str) and value.startswith(PREFIX):
        return value[len(PREFIX) :].partition(":")[0]
    return None


def count_keys(stored: Iterable[Any]) -> dict[str | None, int]:
    """How many of the stored values each key id protects (None: plain)."""
    return dict(Counter(key_id_of(value) for value in stored))


_KEYRINGS: "WeakKeyDictionary[Engine, Keyring]" = WeakKeyDictionary()


def attach(engine: Engine, keyring: Keyring | None) -> None:
    """Make an engine encrypt what it stores with this keyring (None: store plain)."""
    if keyring is None:
        _KEYRINGS.pop(engine, None)
    else:
        _KEYRINGS[engine] = keyring


def keyring_of(conn: Connection) -> Keyring | None:
    """The keyring of the connection's engine; None when encryption is off."""
    return _KEYRINGS.get(conn.engine)


def keyring_of_engine(engine: Engine) -> Keyring | None:
    return _KEYRINGS.get(engine)


def refuse_plain_read(place: str, stored: Any) -> NoReturn:
    """Encryption is off, yet a stored value is encrypted: say so instead of serving it."""
    raise EncryptionError(
        f"a stored {place} value is encrypted (key id {key_id_of(stored)!r}) but "
        "SCIMGATE_ENCRYPTION_KEYS is empty: configure the keys it was written with"
    )
