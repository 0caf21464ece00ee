"""Attribute names as RFC 7643 §2.1 has them: case-insensitive, and optionally URN-qualified.

A client may write ``active``, ``Active`` or ``ACTIVE``; it may qualify a name
with its schema (``urn:…:core:2.0:User:active``, ``urn:…:enterprise:2.0:User:
department``) or nest attributes under the schema's URN
(``{"urn:…:core:2.0:Group": {"members": […]}}``). All of these name the same
attribute. scim2-models folds the case of the keys it validates, but the
service reads some keys itself before the models see them (a group's
``members``, which are rows; a user's ``manager``, whose ``$ref`` it fills),
and the models keep the last of two keys naming one attribute. So every body
is rewritten once, on its way in, to the spelling a read returns, before
anything else looks at it:

- a core attribute under its own name, at the top level (``active``);
- an extension's attributes inside the extension's object, under its URN as
  the schema spells it;
- sub-attributes under their own names (``givenName``, ``value``, ``$ref``).

Keys the schema does not declare are left as they were sent, for the models to
refuse with the key the client wrote; in the value of a PATCH without a path
such a key is refused here, since it would otherwise be an operation that does
nothing. Two keys naming the same attribute are refused: JSON gives their order
no meaning, so keeping either would lose the other without a word. Objects are
merged instead (``name`` and ``name.givenName``; the extension's object and an
attribute qualified with its URN), as a PATCH writes each of their keys.
"""

from __future__ import annotations

from dataclasses import field
from functools import lru_cache
from inspect import isclass
from typing import Any, TypeGuard

from scim2_models import (
    BaseModel,
    InvalidPathException,
    InvalidValueException,
    PatchOp,
    PatchOperation,
    Path,
    Resource,
)

from scimgate.records import frozen

Slot = tuple[str, ...]
"""Where an attribute lands: its canonical name, under its extension's URN if it has one."""


def canonical_resource(model: type[Resource[Any]], payload: dict[str, Any]) -> dict[str, Any]:
    """A creation or replacement body with every attribute under its canonical name."""
    return _Builder(model, strict=False).resource(payload)


def canonical_patch(model: type[Resource[Any]], payload: dict[str, Any]) -> dict[str, Any]:
    """A PATCH body with canonical message keys and, in each operation, a canonical value.

    A value without a path is a set of attributes of the resource, as is one
    whose path is empty or the resource's own schema URN (the path is dropped);
    a value with another path is canonical relative to the attribute it names.
    """
    message = _canonical_keys(PatchOp, payload, "the PATCH request")
    operations = message.get("Operations")
    if isinstance(operations, list):
        message["Operations"] = [
            _canonical_operation(model, operation, number)
            for number, operation in enumerate(operations, start=1)
        ]
    return message


def _canonical_operation(model: type[Resource[Any]], operation: Any, number: int) -> Any:
    if not isinstance(operation, dict):
        return operation
    canonical = _canonical_keys(PatchOperation, operation, f"PATCH operation {number}")
    if "value" not in canonical:
        return canonical
    path, value = canonical.get("path"), canonical["value"]
    if isinstance(path, str) and path.lower() in ("", _schema_urn(model).lower()):
        # An empty path, or the resource's own schema, names the resource: no path at all.
        del canonical["path"]
        path = None
    try:
        if path is None and isinstance(value, dict):
            canonical["value"] = _Builder(model, strict=True).resource(value)
        elif isinstance(path, str):
            canonical["value"] = _value_at(model, path, value)
    except (InvalidPathException, InvalidValueException) as exc:
        described = f"{canonical.get('op')} {path or '(no path)'}"
        raise type(exc)(
            detail=f"Invalid PATCH operation {number} ({described}): {exc.detail}"
        ) from None
    return canonical


def _value_at(model: type[Resource[Any]], path: str, value: Any) -> Any:
    """A PATCH value in canonical form for the attribute ``path`` names."""
    try:
        target = Path[model](path)  # type: ignore[valid-type]
        binding = target.resolve()
    except (InvalidPathException, ValueError):
        return value  # the models report a path they cannot read
    if target.model is not None and isinstance(value, dict):
        # An extension's URN as the path: the value holds the extension's attributes.
        urn = _schema_urn(target.model)
        builder = _Builder(model, strict=False)
        builder.place_all(target.model, (urn,), value, urn)
        return builder.tree[urn]
    if binding is None or binding.sub_field_name is not None:
        return value
    sub_model = binding.field_type
    if not _is_model(sub_model):
        return value
    if isinstance(value, list):
        return [_complex_value(sub_model, entry, path) for entry in value]
    return _complex_value(sub_model, value, path)


@frozen
class _Attribute:
    name: str
    """The name a read spells it with."""

    model: type[BaseModel] | None
    """The model of its value, for a complex attribute."""

    multi_valued: bool


@frozen
class _Schema:
    """What a model declares, keyed by folded name."""

    attributes: dict[str, _Attribute]
    extensions: dict[str, tuple[str, type[BaseModel]]] = field(default_factory=dict)
    """Folded URN: the URN as spelled, and the extension's model."""


@lru_cache(maxsize=256)
def _schema(model: type[BaseModel]) -> _Schema:
    extensions = model.get_extension_models() if issubclass(model, Resource) else {}
    urns = {urn.lower() for urn in extensions}
    attributes: dict[str, _Attribute] = {}
    for field_name, info in model.model_fields.items():
        name = info.serialization_alias or field_name
        if name.lower() in urns:
            continue
        root = model.get_field_root_type(field_name)
        attribute = _Attribute(
            name,
            root if _is_model(root) else None,
            bool(model.get_field_multiplicity(field_name)),
        )
        # The models also read a field under its Python name; a read never writes it.
        attributes.setdefault(field_name.lower(), attribute)
        attributes[name.lower()] = attribute
    return _Schema(
        attributes,
        {urn.lower(): (urn, extension) for urn, extension in extensions.items()},
    )


def _is_model(kind: Any) -> TypeGuard[type[BaseModel]]:
    return isclass(kind) and issubclass(kind, BaseModel)


def _schema_urn(model: type[BaseModel]) -> str:
    return str(getattr(model, "__schema__", ""))


def _complex_value(model: type[BaseModel], value: Any, what: str) -> Any:
    """A complex attribute's value with its sub-attributes under their canonical names."""
    return _canonical_keys(model, value, what) if isinstance(value, dict) else value


def _canonical_keys(model: type[BaseModel], value: dict[str, Any], what: str) -> dict[str, Any]:
    """An object with the keys ``model`` declares under their canonical names, others as sent.

    Used for the sub-attributes of a complex value, and for the keys of a PATCH
    message and of its operations; ``what`` names the object in an error.
    """
    declared = _schema(model).attributes
    canonical: dict[str, Any] = {}
    sent: dict[str, str] = {}
    for key, item in value.items():
        attribute = declared.get(key.lower()) if isinstance(key, str) else None
        name = attribute.name if attribute else key
        if name in sent:
            raise _twice(sent[name], key, f"{name} of {what}")
        sent[name] = key
        canonical[name] = item
    return canonical


def _display(slot: Slot) -> str:
    """An attribute as a path names it: ``name.givenName``, ``urn:…:User:manager.value``."""
    if slot[0].lower().startswith("urn:"):
        return f"{slot[0]}:{'.'.join(slot[1:])}" if len(slot) > 1 else slot[0]
    return ".".join(slot)


def _twice(first: str, second: str, attribute: str) -> InvalidValueException:
    return InvalidValueException(
        detail=f"'{first}' and '{second}' both name {attribute} (attribute names are "
        "case-insensitive and may carry their schema URN, RFC 7643 §2.1): send it once"
    )


class _Builder:
    """Collects the keys of one object into their canonical places, refusing collisions."""

    def __init__(self, model: type[Resource[Any]], *, strict: bool) -> None:
        self.model = model
        self.strict = strict
        """Whether a key naming no attribute of the resource is refused (a PATCH value)."""
        self.tree: dict[str, Any] = {}
        self.sent: dict[Slot, str] = {}
        """The key each filled slot was sent as."""
        self.containers: set[Slot] = set()
        """Slots holding an object that later keys may add to."""

    def resource(self, payload: dict[str, Any]) -> dict[str, Any]:
        for key, item in payload.items():
            if not (isinstance(key, str) and self._place_top(key, item)):
                self._unknown((str(key),), item, str(key))
        return self.tree

    def place_all(
        self,
        model: type[BaseModel],
        prefix: Slot,
        value: dict[str, Any],
        sent: str,
        *,
        attributes: bool = False,
    ) -> None:
        """Place the keys of an object holding ``model``'s attributes or sub-attributes.

        A key ``model`` does not declare is kept as sent, for a tolerance or the
        models to deal with, unless the object holds an extension's
        ``attributes`` in a PATCH value: it is refused there, as at the top level.
        """
        self._open(prefix, sent)
        for key, item in value.items():
            spelled = f"{sent}/{key}"
            if isinstance(key, str) and self._place(model, prefix, key, item, spelled):
                continue
            if attributes:
                self._unknown((*prefix, str(key)), item, spelled)
            else:
                self._leaf((*prefix, str(key)), None, item, spelled)

    def _place_top(self, key: str, item: Any) -> bool:
        """Place a top-level key of a resource; False when it names nothing the model has."""
        schema = _schema(self.model)
        folded = key.lower()
        core = _schema_urn(self.model)
        if folded == core.lower():
            if not isinstance(item, dict):
                return False
            for inner, inner_item in item.items():
                spelled = f"{key}/{inner}"
                if not (
                    isinstance(inner, str)
                    and self._place(self.model, (), inner, inner_item, spelled)
                ):
                    self._unknown((str(inner),), inner_item, spelled)
            return True
        if folded in schema.extensions:
            urn, extension = schema.extensions[folded]
            if isinstance(item, dict):
                self.place_all(extension, (urn,), item, key, attributes=True)
            else:
                self._leaf((urn,), None, item, key)
            return True
        qualifiers = [(core.lower(), ""), *((f, urn) for f, (urn, _) in schema.extensions.items())]
        for folded_urn, urn in sorted(qualifiers, key=lambda entry: -len(entry[0])):
            if folded.startswith(folded_urn + ":"):
                name = key[len(folded_urn) + 1 :]
                if not urn:
                    return self._place(self.model, (), name, item, key)
                extension = schema.extensions[folded_urn][1]
                if name.partition(".")[0].lower() not in _schema(extension).attributes:
                    return False
                self._open((urn,), key)
                return self._place(extension, (urn,), name, item, key)
        return self._place(self.model, (), key, item, key)

    def _place(self, model: type[BaseModel], prefix: Slot, name: str, item: Any, sent: str) -> bool:
        """Place ``name`` (``attr`` or ``attr.sub``) of ``model``; False when it declares none."""
        head, dot, sub = name.partition(".")
        attribute = _schema(model).attributes.get(head.lower())
        if attribute is None or (dot and not sub):
            return False
        slot = (*prefix, attribute.name)
        if dot:
            children = _schema(attribute.model).attributes if attribute.model else {}
            child = children.get(sub.lower())
            sub_name = child.name if child else sub
            if attribute.model is None or attribute.multi_valued:
                # ``emails.value`` writes every entry: it stays a path, spelled canonically.
                self._leaf(slot, f"{attribute.name}.{sub_name}", item, sent)
            else:
                self._open(slot, sent)
                self._leaf((*slot, sub_name), None, item, sent)
            return True
        if attribute.model is not None and not attribute.multi_valued and isinstance(item, dict):
            self.place_all(attribute.model, slot, item, sent)
        elif attribute.model is not None and isinstance(item, list):
            entries = [_complex_value(attribute.model, entry, _display(slot)) for entry in item]
            self._leaf(slot, None, entries, sent)
        elif attribute.model is not None:
            self._leaf(slot, None, _complex_value(attribute.model, item, _display(slot)), sent)
        else:
            self._leaf(slot, None, item, sent)
        return True

    def _open(self, slot: Slot, sent: str) -> None:
        """Make ``slot`` an object that keys are added to."""
        if slot in self.containers:
            return
        if slot in self.sent:
            raise _twice(self.sent[slot], sent, _display(slot))
        self.sent[slot] = sent
        self.containers.add(slot)
        self._parent(slot)[slot[-1]] = {}

    def _leaf(self, slot: Slot, key: str | None, item: Any, sent: str) -> None:
        """Put a value in ``slot``; ``key`` spells it when it is not the slot's own name."""
        if slot in self.sent:
            raise _twice(self.sent[slot], sent, _display(slot))
        self.sent[slot] = sent
        self._parent(slot)[key if key is not None else slot[-1]] = item

    def _parent(self, slot: Slot) -> dict[str, Any]:
        parent = self.tree
        for part in slot[:-1]:
            parent = parent[part]
        return parent

    def _unknown(self, slot: Slot, item: Any, sent: str) -> None:
        """A key naming no attribute: refused in a PATCH value, else kept for the models."""
        if self.strict:
            raise self._not_declared(sent)
        self._leaf(slot, None, item, sent)

    def _not_declared(self, key: str) -> InvalidPathException:
        kind = _schema_urn(self.model).rsplit(":", 1)[-1]
        hint = (
            ": if it is a custom attribute, have its extension schema registered for the "
            "directory, or remove it from the IdP's attribute mappings"
            if key.lower().startswith("urn:")
            else ""
        )
        return InvalidPathException(
            detail=f"'{key}' is not an attribute of a {kind} in this directory, so the PATCH "
            f"cannot apply it{hint}"
        )
