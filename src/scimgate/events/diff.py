"""What changed between two stored SCIM documents, as the values before the change."""

from typing import Any


def previous_attributes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Each attribute whose value changed, with its previous value (None when it was absent).

    Complex attributes and extensions (a dict under a name or schema URN) are
    compared one level down, so a new department reads as
    ``{"urn:…:enterprise:2.0:User": {"department": "Sales"}}``.
    """
    changed: dict[str, Any] = {}
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            changed[key] = previous_attributes(old, new) if key.startswith("urn:") else old
        else:
            changed[key] = old
    return changed
