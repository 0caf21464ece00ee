"""Setup links: an organization's expiring one-time links for its IT admin."""

from datetime import datetime

from sqlalchemy import Connection, select, update

from scimgate.records import frozen
from scimgate.store.tables.access import setup_links


@frozen
class SetupLink:
    id: str
    organization_id: str
    created_at: datetime
    expires_at: datetime
    opened_at: datetime | None
    """When a browser redeemed the link; it cannot be redeemed again."""

    directory_id: str | None
    """The directory the link set up or was made for."""

    token_revealed_at: datetime | None
    token_id: str | None
    """The SCIM token the link revealed (once)."""

    revoked_at: datetime | None


_COLUMNS = [column for column in setup_links.c if column.name != "secret_hash"]


def insert_link(conn: Connection, link: SetupLink, secret_hash: str) -> None:
    conn.execute(setup_links.insert().values(**vars(link), secret_hash=secret_hash))


def find_by_hash(conn: Connection, secret_hash: str) -> SetupLink | None:
    row = conn.execute(select(*_COLUMNS).where(setup_links.c.secret_hash == secret_hash)).first()
    return SetupLink(**row._mapping) if row is not None else None


def get_link(conn: Connection, link_id: str, *, for_update: bool = False) -> SetupLink | None:
    query = select(*_COLUMNS).where(setup_links.c.id == link_id)
    if for_update:
        query = query.with_for_update()
    row = conn.execute(query).first()
    return SetupLink(**row._mapping) if row is not None else None


def organization_links(conn: Connection, organization_id: str) -> list[SetupLink]:
    rows = conn.execute(
        select(*_COLUMNS)
        .where(setup_links.c.organization_id == organization_id)
        .order_by(setup_links.c.created_at.desc(), setup_links.c.id)
    )
    return [SetupLink(**row._mapping) for row in rows]


def mark_opened(conn: Connection, link_id: str, at: datetime) -> bool:
    """Redeem a link; False when it was redeemed already (one-time, even under a race)."""
    result = conn.execute(
        update(setup_links)
        .where(setup_links.c.id == link_id, setup_links.c.opened_at.is_(None))
        .values(opened_at=at)
    )
    return result.rowcount == 1


def attach_directory(conn: Connection, link_id: str, directory_id: str) -> bool:
    result = conn.execute(
        update(setup_links)
        .where(setup_links.c.id == link_id, setup_links.c.directory_id.is_(None))
        .values(directory_id=directory_id)
    )
    return result.rowcount == 1


def mark_revealed(conn: Connection, link_id: str, token_id: str, at: datetime) -> bool:
    """Record the one reveal of the link's token; False when it was revealed already."""
    result = conn.execute(
        update(setup_links)
        .where(setup_links.c.id == link_id, setup_links.c.token_revealed_at.is_(None))
        .values(token_revealed_at=at, token_id=token_id)
    )
    return result.rowcount == 1


def revoke(conn: Connection, link_id: str, at: datetime) -> bool:
    result = conn.execute(
        update(setup_links)
        .where(setup_links.c.id == link_id, setup_links.c.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    return result.rowcount == 1
