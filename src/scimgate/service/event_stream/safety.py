"""Per-directory delivery settings: the safety valve's thresholds and the assignment group.

A dry run is chosen when the directory is created (``tenants.create_directory``).
"""

from sqlalchemy import Engine

from scimgate.events.models import DeprovisionReason
from scimgate.records import frozen
from scimgate.service.directories import existing_directory
from scimgate.service.errors import Invalid, UnknownAssignmentGroup
from scimgate.service.event_stream.changes import changing
from scimgate.store import roles, tenants
from scimgate.store.name_lookups import group_named
from scimgate.store.transactions import writing


@frozen
class SafetyValve:
    directory_id: str
    delivery: str
    max_count: int
    max_percent: int
    window_minutes: int


def configure(
    engine: Engine,
    directory_id: str,
    *,
    max_count: int | None = None,
    max_percent: int | None = None,
    window_minutes: int | None = None,
) -> SafetyValve:
    """Change the thresholds given (0 turns the count or the share rule off)."""
    values = {
        "safety_max_count": max_count,
        "safety_max_percent": max_percent,
        "safety_window_minutes": window_minutes,
    }
    if any(value is not None and value < 0 for value in values.values()):
        raise Invalid("thresholds are zero (off) or more")
    if window_minutes is not None and window_minutes < 1:
        raise Invalid("the window is at least one minute")
    with writing(engine) as conn:
        existing_directory(conn, directory_id)
        changed = {key: value for key, value in values.items() if value is not None}
        if changed:
            tenants.update_directory(conn, directory_id, **changed)
        directory = existing_directory(conn, directory_id)
    return SafetyValve(
        directory.id,
        directory.delivery,
        directory.safety_max_count,
        directory.safety_max_percent,
        directory.safety_window_minutes,
    )


def set_assignment_group(engine: Engine, directory_id: str, group_name: str | None) -> str | None:
    """Make membership of a group (by display name) what gives users access, or stop that.

    Users outside the group become inactive at once (``user.deactivated`` with
    reason ``unassigned``); clearing the setting reactivates them. The group is
    remembered by id, so renaming it in the IdP changes nothing.
    """
    with changing(engine, directory_id) as work:
        conn = work.conn
        directory = existing_directory(conn, directory_id)
        group_id = None
        if group_name is not None:
            group_id = group_named(conn, directory_id, group_name)
            if group_id is None:
                raise UnknownAssignmentGroup(directory_id, group_name)
        if group_id == directory.assignment_group:
            return group_id
        build = work.builder
        user_ids = roles.all_user_ids(conn, directory_id)
        before = {user_id: build.user(user_id).state for user_id in user_ids}
        tenants.update_directory(conn, directory_id, assignment_group=group_id)
        build.reread_directory()
        for user_id in user_ids:
            work.user_changed(
                user_id,
                before=before[user_id],
                previous_attributes={},
                reason=DeprovisionReason.unassigned,
            )
    return group_id
