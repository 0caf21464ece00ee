"""A directory's configuration as a writing transaction uses it, kept per process.

Every change of a user needs the directory's role rules and attribute mappings
(for its roles and its event), and the directory row (its IdP profile and
assignment group). The row is read in the writing transaction, one primary-key
read; the rules and mappings are kept here with the configuration stamp they
were read at (``scimgate.store.configuration``) and read again only when the
row holds another stamp. A change made through another process is therefore
used by the next write through this one, and a transaction that changes the
rules itself sees its own new stamp and reads them.

A SCIM request's transaction does not read the row: it takes the directory its
credential stamp confirmed when the request began (``Scope.confirmed_stamp``),
which is what the read would find but for a change committed since.

* On PostgreSQL it takes it as it is. At READ COMMITTED the read takes no lock,
  so such a change could as well commit just after it: the transaction sees no
  less than before, and saves a round trip. Publishing reads and locks the row
  again (``store.tenants.lock_directory``), so whether the events are delivered
  or held is decided on the row as it then stands.
* On SQLite it reads the stamp again instead, and the row only when the stamp has
  moved: the transaction holds the database, so the directory it takes is the row
  as it stands until the commit, and publishing takes it as it is. The stamp is one
  number of a narrow table: about 5 µs of CPU against 15 for the row, timed alone.
"""

from dataclasses import field
from threading import Lock
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine

from scimgate.records import cached_property, frozen
from scimgate.scim.attribute_mapping import DEFAULTS
from scimgate.service.administration.tenants import effective_idp
from scimgate.store import configuration, mappings, roles
from scimgate.store.roles import RoleRule
from scimgate.store.stamps import stamp_in
from scimgate.store.tenants import Directory

MAX_DIRECTORIES = 4096
"""Directories whose configuration one process keeps; past this, it starts again."""


@frozen
class Kept:
    """What a directory's rules and mappings were at one stamp."""

    stamp: int
    rules: tuple[RoleRule, ...]
    own_mappings: dict[str, str]


@frozen
class Confirmed:
    """A directory row as the database held it at a credential stamp."""

    directory: Directory
    stamp: int


@frozen
class DirectoryConfig:
    """The directory as the transaction sees it, with its role rules and attribute mappings."""

    directory: Directory
    rules: tuple[RoleRule, ...]
    own_mappings: dict[str, str] = field(repr=False)

    @cached_property
    def mappings(self) -> dict[str, str]:
        """The directory's own mappings over its IdP profile's defaults."""
        return {**DEFAULTS[effective_idp(self.directory)], **self.own_mappings}


_KEPT: "WeakKeyDictionary[Engine, dict[str, Kept]]" = WeakKeyDictionary()
_LOCK = Lock()


def directory_config(
    conn: Connection, directory_id: str, known: Confirmed | None = None
) -> DirectoryConfig:
    """The directory's configuration in this transaction: the row read, unless the request
    confirmed it (``known``) and, on SQLite, the transaction finds the same stamp; its rules
    and mappings read only when this process does not have them at the row's stamp."""
    if known is not None and (
        conn.dialect.name == "postgresql" or stamp_in(conn, directory_id) == known.stamp
    ):
        directory = known.directory
    else:
        directory = configuration.directory(conn, directory_id)
    config = kept_config(conn.engine, directory)
    if config is not None:
        return config
    found = Kept(
        directory.config_stamp,
        tuple(roles.rules(conn, directory_id)),
        mappings.mappings(conn, directory_id),
    )
    kept = _kept(conn.engine)
    if len(kept) >= MAX_DIRECTORIES:
        kept.clear()
    kept[directory_id] = found
    return DirectoryConfig(directory, found.rules, found.own_mappings)


def kept_config(engine: Engine, directory: Directory) -> DirectoryConfig | None:
    """The directory's configuration, when this process keeps its rules and mappings at the
    row's stamp: no statement is needed for it."""
    found = _kept(engine).get(directory.id)
    if found is None or found.stamp != directory.config_stamp:
        return None
    return DirectoryConfig(directory, found.rules, found.own_mappings)


def _kept(engine: Engine) -> dict[str, Kept]:
    found = _KEPT.get(engine)
    if found is None:
        with _LOCK:
            found = _KEPT.setdefault(engine, {})
    return found
