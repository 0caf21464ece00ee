"""Rate-limit buckets kept in PostgreSQL, so that every server process draws on the same ones.

Each bucket is one row holding its theoretical arrival time (GCRA, the "generic
cell rate algorithm" of token buckets): a request is admitted while the bucket's
``tat`` lies at most ``tolerance`` seconds ahead of now, and admitting it moves
``tat`` on by ``interval``. One statement admits or refuses, atomically under the
row's lock, on the database's clock, so processes on different hosts agree.
"""

from sqlalchemy import Connection, Executable, bindparam, delete, func, literal_column, select
from sqlalchemy.dialects.postgresql import insert

from scimgate.store.tables.tenancy import rate_buckets

_NOW = func.extract("epoch", func.now())
_AHEAD = func.greatest(rate_buckets.c.tat, _NOW)

_ADMIT: Executable = (
    insert(rate_buckets)
    .values(
        directory_id=bindparam("directory_id"),
        bucket=bindparam("bucket"),
        tat=_NOW + bindparam("interval"),
    )
    .on_conflict_do_update(
        index_elements=[rate_buckets.c.directory_id, rate_buckets.c.bucket],
        set_={"tat": _AHEAD + bindparam("interval")},
        where=bindparam("tolerance") >= _AHEAD - _NOW,
    )
    .returning(literal_column("1"))
)
"""Built once: run by every SCIM request when limits are shared."""

_WAIT = select(rate_buckets.c.tat - _NOW - bindparam("tolerance")).where(
    rate_buckets.c.directory_id == bindparam("directory_id"),
    rate_buckets.c.bucket == bindparam("bucket"),
)


def admit(
    conn: Connection, directory_id: str, bucket: str, interval: float, tolerance: float
) -> float | None:
    """Take one request from a bucket: ``None`` if admitted, else the seconds to wait."""
    parameters = {
        "directory_id": directory_id,
        "bucket": bucket,
        "interval": interval,
        "tolerance": tolerance,
    }
    if conn.execute(_ADMIT, parameters).first() is not None:
        return None
    wait = conn.execute(_WAIT, parameters).scalar()
    return max(float(wait or 0.0), 0.0)


_PURGE_FULL: Executable = delete(rate_buckets).where(rate_buckets.c.tat < _NOW)


def purge_full(conn: Connection) -> int:
    """Remove the buckets that have refilled; returns how many.

    A bucket whose ``tat`` has passed admits exactly as a missing one does (both
    start again from now), so removing it changes no answer. Without this, every
    client address that ever had a credential refused would keep a row.
    """
    return conn.execute(_PURGE_FULL).rowcount
