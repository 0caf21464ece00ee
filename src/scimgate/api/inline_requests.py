"""The SCIM requests answered on the event loop itself, without the hop to a worker thread.

On SQLite a short request gains nothing from a worker thread: its work holds the
interpreter lock whether it runs there or on the loop, and the database never
makes a read wait. The hop itself is what costs. Under concurrency the loop
and the workers hand the interpreter lock to one another at every database call
(the sqlite3 driver lets go of it around each step), and those hand-offs cost
more CPU, mostly in the kernel, than a lookup's query. Measured under load, a
create answered on the loop cost about 40% less CPU than one answered in a
thread, a lookup about a quarter less.

A request runs on the loop only when its work is known to be short and never
waits:

* its handler is one whose cost is bounded by the request itself (a user's
  create, read, replace or change; a one-equality lookup of a user, or of a
  group without its members; a group's create or member change that answers
  no attributes), and its body is at most ``INLINE_BODY_BYTES``, so a group
  change naming a thousand members goes to a thread;
* and it holds this process's SQLite write turn while it runs
  (``store.engine.turn_if_free``), so that any write it makes never waits for
  another writer of the process. A short write joins the writes that arrived
  with it and is committed with them once the turn is free
  (``api.commit_groups``); a short read runs at once if the turn is free, and
  takes the hop if it is not. PostgreSQL (where each statement is a round trip
  the loop could spend on other requests) and every other request take the
  hop as before.
"""

from collections.abc import Callable, Mapping
from typing import Any

from scimgate.api import scim_routes
from scimgate.api.scim_routes import Handler
from scimgate.scim.key_lookups import looks_like_key_lookup

INLINE_BODY_BYTES = 4096
"""The largest body a request answered on the loop may have: a user of the richest IdP
profile, or a change of a few dozen members."""


def _any(_: Mapping[str, Any]) -> bool:
    return True


def _no_parameters(parameters: Mapping[str, Any]) -> bool:
    return not parameters


def _user_lookup(parameters: Mapping[str, Any]) -> bool:
    return looks_like_key_lookup(parameters, "User")


def _group_lookup_without_members(parameters: Mapping[str, Any]) -> bool:
    excluded = parameters.get("excludedAttributes")
    return (
        isinstance(excluded, str)
        and "members" in excluded.lower().replace(" ", "").split(",")
        and looks_like_key_lookup(parameters, "Group")
    )


_SHORT: dict[Handler, Callable[[Mapping[str, Any]], bool]] = {
    scim_routes.create_user: _any,
    scim_routes.get_user: _any,
    scim_routes.replace_user: _any,
    scim_routes.patch_user: _any,
    scim_routes.list_users: _user_lookup,
    scim_routes.list_groups: _group_lookup_without_members,
    scim_routes.create_group: _no_parameters,
    scim_routes.patch_group: _no_parameters,
}
"""The handlers whose work is bounded by the request, and the query parameters with which
it is (a group's change answered with ``attributes`` renders the group)."""


def is_short(handler: Handler, parameters: Mapping[str, Any], body: bytes) -> bool:
    """Whether a request's work is bounded by the request itself (see the module's text)."""
    bounded = _SHORT.get(handler)
    return bounded is not None and len(body) <= INLINE_BODY_BYTES and bounded(parameters)
