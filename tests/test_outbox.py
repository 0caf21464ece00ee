"""Every change is recorded in the outbox by the transaction that makes it, and only then."""

from sqlalchemy import select

from conftest import DirectoryClient, LiveServer
from scim_payloads import group, patch, user
from scimgate.store.tables import events


def _changes(server: LiveServer, directory_id: str) -> list[tuple[str, str]]:
    with server.engine.connect() as conn:
        rows = conn.execute(
            select(events.c.type, events.c.resource_id)
            .where(events.c.directory_id == directory_id)
            .order_by(events.c.seq)
        )
        return [(row.type, row.resource_id) for row in rows]


def test_changes_are_recorded_in_order(scim: DirectoryClient, live_server: LiveServer) -> None:
    user_id = scim.http.post("/Users", json=user("ann")).json()["id"]
    group_id = scim.http.post("/Groups", json=group("Team")).json()["id"]
    scim.http.patch(
        f"/Groups/{group_id}",
        json=patch({"op": "add", "path": "members", "value": [{"value": user_id}]}),
    )
    scim.http.patch(
        f"/Users/{user_id}", json=patch({"op": "replace", "path": "active", "value": False})
    )
    scim.http.delete(f"/Users/{user_id}")
    assert _changes(live_server, scim.directory_id) == [
        ("directory.activated", scim.directory_id),
        ("user.created", user_id),
        ("group.created", group_id),
        ("group.user_added", user_id),
        ("user.deactivated", user_id),
        ("group.user_removed", user_id),
        ("user.deleted", user_id),
    ]


def test_refused_and_noop_writes_record_nothing(
    scim: DirectoryClient, live_server: LiveServer
) -> None:
    created = scim.http.post("/Users", json=user("bob", title="Engineer")).json()
    refused = scim.http.patch(
        f"/Users/{created['id']}",
        json=patch(
            {"op": "replace", "path": "title", "value": "Boss"},
            {"op": "replace", "path": "userName", "value": 42},
        ),
    )
    assert refused.status_code == 400
    noop = scim.http.put(f"/Users/{created['id']}", json=user("bob", title="Engineer"))
    assert noop.status_code == 200
    assert scim.http.post("/Users", json=user("BOB")).status_code == 409
    assert _changes(live_server, scim.directory_id) == [
        ("directory.activated", scim.directory_id),
        ("user.created", created["id"]),
    ]
