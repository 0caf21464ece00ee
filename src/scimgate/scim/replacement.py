"""Reading a user's replacement body (PUT /Users/{id}) into its stored document in one pass.

Okta sends a PUT for every change of a user's profile: the user it read, changed
and sent back whole. The models' way reads it into the model, builds the stored
user's model, applies RFC 7644 §3.5.1 (``Resource.replace``) and dumps the
result. Of what a canonical body (:mod:`scimgate.scim.canonical_bodies`) can
hold, §3.5.1 keeps nothing from the stored user that a stored document holds:
the read-only attributes it ignores (``id``, ``meta``, ``groups``) are not part
of a stored document, the only write-only one (``password``) is never stored,
and none of them has an immutable sub-attribute. Such a body's stored document
is therefore its own, settled, whatever the user held before; property tests
hold it to the models' way for any stored user.

A directory with its own extension schemas, and any body that is not
canonical, takes the models' way (None here).
"""

from typing import Any

from scimgate.scim.canonical_bodies import canonical_replacement
from scimgate.scim.extensions import ResourceModels
from scimgate.scim.resources import UserResource
from scimgate.scim.values import settled_user


def replacement_document(models: ResourceModels, body: bytes) -> dict[str, Any] | None:
    """The stored document a PUT of ``body`` to a user leaves, or None for the models' way."""
    if models.user is not UserResource:
        return None
    canonical = canonical_replacement(body)
    return None if canonical is None else settled_user(canonical)
