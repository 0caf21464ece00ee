"""What a SCIM endpoint accepts: the protocol's limits, advertised in ``/ServiceProviderConfig``.

The operator sets them through ``Settings`` (``SCIMGATE_MAX_RESULTS`` and the like).
"""

from scimgate.records import frozen


@frozen
class Limits:
    """What the SCIM endpoint accepts, advertised in ``/ServiceProviderConfig``."""

    max_results: int = 1000
    """The largest page a list or search returns (``filter.maxResults``)."""

    default_count: int = 100
    """The page size when a request does not name ``count``."""

    max_payload_bytes: int = 1_048_576
    """The largest request body, and ``bulk.maxPayloadSize``."""

    max_bulk_operations: int = 1000
    """``bulk.maxOperations``."""

    max_filter_length: int = 4096
    """The longest filter expression accepted, in characters."""

    max_filter_terms: int = 100
    """The most comparisons (``pr`` included) one filter may make."""

    max_attribute_names: int = 100
    """The most distinct names one ``attributes`` or ``excludedAttributes`` may list."""

    confirmation_interval: float = 60.0
    """Seconds within which a resource the IdP sends again is not re-marked as confirmed."""

    max_members_per_request: int = 20_000
    """The most group members one request (or Bulk operation) may add, remove or list.

    Each member changed is a row and an event written in the request's
    transaction, during which SQLite lets no other directory write. About as
    many bare member ids as a 1 MB body holds: no IdP's request within the
    default body limit is refused (Entra sends a few members per PATCH, Okta a
    group's whole list when it pushes it).
    """
