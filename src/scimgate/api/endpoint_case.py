"""SCIM endpoints named in any case: ``/users``, ``/USERS/{id}``, ``/serviceproviderconfig``.

RFC 7644 §3.2 spells the endpoints ``/Users``, ``/Groups``, ``/Bulk`` …, and
the routes use those spellings; some clients lower-case them, and Microsoft's
reference server and other SCIM servers answer them anyway. The endpoint (and
a ``.search`` after it) is put in its canonical case before routing (by the SCIM
edge, ``api.scim_edge``); ids and everything else in the path stay as sent.
"""

SCIM_PREFIX = "/scim/v2/"

_CANONICAL = ("Users", "Groups", "Bulk", "Me", "ServiceProviderConfig", "Schemas", "ResourceTypes")
ENDPOINTS = {name.lower(): name for name in (*_CANONICAL, ".search")}


def canonical_path(path: str) -> str:
    """``path`` with its SCIM endpoint (and a ``.search`` following it) in canonical case."""
    if not path.startswith(SCIM_PREFIX):
        return path
    parts = path.split("/")
    # "", "scim", "v2", directory id, endpoint, resource id or .search, ...
    for index in (4, 5):
        if index < len(parts) and (index == 4 or parts[index].lower() == ".search"):
            parts[index] = ENDPOINTS.get(parts[index].lower(), parts[index])
    return "/".join(parts)
