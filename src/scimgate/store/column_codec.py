"""How a value is stored and read back: as it is, or sealed under the keyring.

Every store module takes its connection's codec (:func:`codec_of`) and passes each
value that encryption at rest changes through it: personal text and documents
are sealed and opened, lookup columns hold keyed hashes, and a filter or a sort
order is checked against what sealed rows can answer. With encryption off each
of these is the identity, so a store module has one code path for both.

Where sealed rows need other SQL (they cannot be searched or compared in the
database), the module asks :attr:`ColumnCodec.sealed`.
"""

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from sqlalchemy import ColumnElement, Connection

from scimgate.records import frozen
from scimgate.store.encryption import Keyring, keyring_of, refuse_plain_read
from scimgate.store.query.sealed import sealed_condition
from scimgate.store.query.sorting import check_sortable


class ColumnCodec(ABC):
    """Seals and opens stored values, and makes the lookup values stored and asked for.

    A sealed value is bound to where it lives: ``place`` (table and column), the
    directory and the row. A lookup value is of an ``attribute`` in its comparison
    form (case-folded where the attribute is case-insensitive).
    """

    sealed: ClassVar[bool]
    """Whether stored values are encrypted."""

    @abstractmethod
    def seal(self, text: str, place: str, directory_id: str, row_id: str) -> str: ...

    @abstractmethod
    def open(self, value: str, place: str, directory_id: str, row_id: str) -> str: ...

    def seal_optional(
        self, text: str | None, place: str, directory_id: str, row_id: str
    ) -> str | None:
        return None if text is None else self.seal(text, place, directory_id, row_id)

    def open_optional(
        self, value: str | None, place: str, directory_id: str, row_id: str
    ) -> str | None:
        return None if value is None else self.open(value, place, directory_id, row_id)

    @abstractmethod
    def seal_document(self, doc: Any, place: str, directory_id: str, row_id: str) -> Any: ...

    @abstractmethod
    def open_document(self, stored: Any, place: str, directory_id: str, row_id: str) -> Any:
        """A stored JSON object back: stored as text only when sealed, so plain text is
        refused (it was sealed, and the keys are missing)."""

    @abstractmethod
    def open_value(self, stored: Any, place: str, directory_id: str, row_id: str) -> Any:
        """A stored JSON value of any kind back (a request's body, which may be a string)."""

    @abstractmethod
    def lookup(self, attribute: str, directory_id: str, value: str) -> str:
        """What a lookup column stores for a value ("" stays "")."""

    def lookup_optional(self, attribute: str, directory_id: str, value: str | None) -> str | None:
        return None if value is None else self.lookup(attribute, directory_id, value)

    @abstractmethod
    def lookups(self, attribute: str, directory_id: str, value: str) -> list[str]:
        """What a lookup column may hold for a value: every form a query asks for."""

    @abstractmethod
    def condition(self, condition: ColumnElement[bool], directory_id: str) -> ColumnElement[bool]:
        """A filter's condition as the stored rows can answer it (refusing what they cannot)."""

    @abstractmethod
    def check_order(self, order_by: Any) -> None:
        """Refuse a sort order the stored rows cannot be sorted by."""


class PlainColumns(ColumnCodec):
    """Encryption off: values are stored as they are."""

    sealed = False

    def seal(self, text: str, place: str, directory_id: str, row_id: str) -> str:
        return text

    def open(self, value: str, place: str, directory_id: str, row_id: str) -> str:
        return value

    def seal_document(self, doc: Any, place: str, directory_id: str, row_id: str) -> Any:
        return doc

    def open_document(self, stored: Any, place: str, directory_id: str, row_id: str) -> Any:
        if stored.__class__ is str:  # an encrypted one: refused, never served
            refuse_plain_read(place, stored)
        return stored

    def open_value(self, stored: Any, place: str, directory_id: str, row_id: str) -> Any:
        return stored

    def lookup(self, attribute: str, directory_id: str, value: str) -> str:
        return value

    def lookups(self, attribute: str, directory_id: str, value: str) -> list[str]:
        return [value]

    def condition(self, condition: ColumnElement[bool], directory_id: str) -> ColumnElement[bool]:
        return condition

    def check_order(self, order_by: Any) -> None:
        return None


@frozen
class SealedColumns(ColumnCodec):
    """Encryption on: personal values encrypted under the keyring's newest key, lookup
    columns holding keyed hashes (``scimgate.store.encryption``)."""

    keyring: Keyring
    sealed = True

    def seal(self, text: str, place: str, directory_id: str, row_id: str) -> str:
        return self.keyring.seal(text, place, directory_id, row_id)

    def open(self, value: str, place: str, directory_id: str, row_id: str) -> str:
        return self.keyring.open(value, place, directory_id, row_id)

    def seal_document(self, doc: Any, place: str, directory_id: str, row_id: str) -> Any:
        return self.keyring.seal_document(doc, place, directory_id, row_id)

    def open_document(self, stored: Any, place: str, directory_id: str, row_id: str) -> Any:
        return self.keyring.open_document(stored, place, directory_id, row_id)

    def open_value(self, stored: Any, place: str, directory_id: str, row_id: str) -> Any:
        return self.keyring.open_document(stored, place, directory_id, row_id)

    def lookup(self, attribute: str, directory_id: str, value: str) -> str:
        """The value's hash under the newest key."""
        if value == "":
            return value
        return self.keyring.lookups(attribute, directory_id, value, plain=False)[0]

    def lookups(self, attribute: str, directory_id: str, value: str) -> list[str]:
        """The hash under every key, so rows not rotated yet match, then the value itself,
        for rows written before encryption was on."""
        return self.keyring.lookups(attribute, directory_id, value)

    def condition(self, condition: ColumnElement[bool], directory_id: str) -> ColumnElement[bool]:
        return sealed_condition(condition, self.keyring, directory_id)

    def check_order(self, order_by: Any) -> None:
        check_sortable(order_by)


PLAIN = PlainColumns()


def codec_of(conn: Connection) -> ColumnCodec:
    """The codec of the connection's engine: sealed when it has a keyring."""
    keyring = keyring_of(conn)
    return PLAIN if keyring is None else SealedColumns(keyring)
