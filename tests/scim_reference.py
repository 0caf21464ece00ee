"""An in-memory reading of RFC 7644 filters (§3.4.2.2), sorting (§3.4.2.3) and PATCH (§3.5.2).

Written from the RFCs for the property tests, independently of the code they
test: nothing here imports scimgate's filter or PATCH code, nor the evaluator or
PATCH engine of scim2-models. It works on SCIM documents as a read returns them
(plain JSON objects) and on filters and paths built as trees, which
:func:`render` and :func:`render_path` write out in the RFC's syntax.

Where the RFCs leave a choice open, the reference takes the one scimgate
documents, and says so where it does:

- ``ne`` on an absent attribute holds, and ``ne`` on a multi-valued attribute
  holds when no value is equal (``x ne v`` means ``not (x eq v)``);
- strings that are not ``caseExact`` compare in lower case (Python's
  ``str.lower``, the Unicode default case mapping), ordering by code point;
- resources whose sort values tie are ordered by id (ids are issued in creation order).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"

# --- What RFC 7643 says about the attributes the tests use -------------------------------

CASE_EXACT = frozenset(
    {"id", "externalid", "meta.version", "meta.location", "groups.value", "members.value"}
)
"""Attributes compared case-sensitively; every other string is caseExact false.

``id`` and ``externalId`` are caseExact (RFC 7643 §3.1). The ``value`` of a
user's ``groups`` and of a group's ``members`` holds such an id; the schema
scimgate serves declares it caseExact true, though the example schema of RFC
7643 §8.7.1 lists it as false. The reference follows the served schema: an
id written in upper case names no group.
"""

BOOLEAN = frozenset({"active", "emails.primary", "phonenumbers.primary"})
DATETIME = frozenset({"meta.created", "meta.lastmodified"})
CANONICAL = {"emails.type": ("work", "home", "other")}
"""Canonical values (RFC 7643 §4.1.2); caseExact false, so scimgate writes them in this case."""
MULTI_VALUED = frozenset({"emails", "phonenumbers", "groups", "members"})
COMPLEX_SINGLE = frozenset({"name", "meta", f"{ENTERPRISE.lower()}:manager"})


# --- Filters as trees ----------------------------------------------------------------------


@dataclass(frozen=True)
class Attr:
    """An attribute path: ``[urn:]name[.sub]``, spelled as the filter spells it."""

    name: str
    sub: str | None = None
    urn: str | None = None

    @property
    def key(self) -> str:
        """The canonical lower-case name, ``urn:name`` for extension attributes."""
        return (
            f"{self.urn.lower()}:{self.name.lower()}"
            if self.urn == ENTERPRISE
            else self.name.lower()
        )

    @property
    def dotted(self) -> str:
        return self.key + (f".{self.sub.lower()}" if self.sub else "")


@dataclass(frozen=True)
class Compare:
    attr: Attr
    op: str
    value: Any
    """A str, bool, int or float (JSON); dateTimes are strings."""


@dataclass(frozen=True)
class Present:
    attr: Attr


@dataclass(frozen=True)
class Logical:
    op: str  # "and" | "or"
    left: Node
    right: Node


@dataclass(frozen=True)
class Not:
    inner: Node


@dataclass(frozen=True)
class ValuePath:
    """``attr[filter]``: the filter is over the sub-attributes of each value."""

    attr: Attr
    inner: Node


Node = Compare | Present | Logical | Not | ValuePath


@dataclass(frozen=True)
class Spelling:
    """How to write a tree out: the case of each name, literal escapes, extra parentheses."""

    recase: Callable[[str], str] = lambda name: name
    ascii_literals: bool = False
    extra_parentheses: bool = False


def render_attr(attr: Attr, spelling: Spelling = Spelling()) -> str:
    text = spelling.recase(attr.name) + (f".{spelling.recase(attr.sub)}" if attr.sub else "")
    return f"{attr.urn}:{text}" if attr.urn else text


def render_value(value: Any, spelling: Spelling = Spelling()) -> str:
    """A comparison value as RFC 7644 writes it: a JSON literal (RFC 7159)."""
    return json.dumps(value, ensure_ascii=spelling.ascii_literals)


def render(node: Node, spelling: Spelling = Spelling()) -> str:
    """The filter's text; ``and`` binds tighter than ``or``, parentheses only where needed."""
    if isinstance(node, Compare):
        return f"{render_attr(node.attr, spelling)} {node.op} {render_value(node.value, spelling)}"
    if isinstance(node, Present):
        return f"{render_attr(node.attr, spelling)} pr"
    if isinstance(node, Not):
        return f"not ({render(node.inner, spelling)})"
    if isinstance(node, ValuePath):
        return f"{render_attr(node.attr, spelling)}[{render(node.inner, spelling)}]"
    parts = []
    for term in (node.left, node.right):
        text = render(term, spelling)
        needs = node.op == "and" and isinstance(term, Logical) and term.op == "or"
        if needs or (spelling.extra_parentheses and isinstance(term, Logical)):
            text = f"({text})"
        parts.append(text)
    return f" {node.op} ".join(parts)


# --- Evaluating a filter ---------------------------------------------------------------


def get_key(obj: dict[str, Any], name: str) -> Any:
    """The value of a key matched case-insensitively (attribute names are, RFC 7643 §2.1)."""
    for key, value in obj.items():
        if key.lower() == name.lower():
            return value
    return None


def empty(value: Any) -> bool:
    """Unassigned, null, "" or an empty list or object (RFC 7643 §2.5, RFC 7644 "pr")."""
    if value is None or value == "" or value == [] or value == {}:
        return True
    if isinstance(value, dict):
        return all(empty(item) for item in value.values())
    if isinstance(value, list):
        return all(empty(item) for item in value)
    return False


def _container(doc: dict[str, Any], attr: Attr) -> Any:
    if attr.urn is not None and attr.urn != ENTERPRISE and attr.urn not in (CORE_USER, CORE_GROUP):
        return None
    holder = get_key(doc, ENTERPRISE) if attr.urn == ENTERPRISE else doc
    return get_key(holder, attr.name) if isinstance(holder, dict) else None


def values_at(doc: dict[str, Any], attr: Attr) -> list[Any]:
    """Every value the path names in a document; several for a multi-valued attribute."""
    top = _container(doc, attr)
    items = top if isinstance(top, list) else [top]
    found = []
    for item in items:
        if attr.sub is not None:
            item = get_key(item, attr.sub) if isinstance(item, dict) else None
        elif isinstance(item, dict) and isinstance(top, list):
            item = get_key(item, "value")  # a multi-valued attribute compares by its value
        # "" is a value to compare (RFC 7643 §2.5 equates only null and [] with
        # unassigned), though not a present one ("pr" wants a non-empty value).
        if item is not None and item != [] and item != {}:
            found.append(item)
    return found


def _kind(attr: Attr) -> str:
    if attr.dotted in BOOLEAN:
        return "bool"
    if attr.dotted in DATETIME:
        return "datetime"
    return "string"


class InvalidFilter(Exception):
    """The RFC calls for a 400 ``invalidFilter`` (e.g. ``gt`` on a boolean, §3.4.2.2)."""


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _compare_one(kind: str, case_exact: bool, actual: Any, op: str, wanted: Any) -> bool:
    if kind == "bool":
        if op != "eq":
            raise InvalidFilter(f"{op} on a boolean")
        return isinstance(wanted, bool) and actual is wanted
    if kind == "datetime":
        if op in ("co", "sw", "ew"):
            raise InvalidFilter(f"{op} on a dateTime")
        left, right = _instant(actual), _instant(wanted)
    else:
        if not isinstance(actual, str) or not isinstance(wanted, str):
            return False
        left, right = (actual, wanted) if case_exact else (actual.lower(), wanted.lower())
    tests: dict[str, Callable[[Any, Any], bool]] = {
        "eq": lambda a, b: a == b,
        "co": lambda a, b: b in a,
        "sw": lambda a, b: a.startswith(b),
        "ew": lambda a, b: a.endswith(b),
        "gt": lambda a, b: a > b,
        "ge": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "le": lambda a, b: a <= b,
    }
    return tests[op](left, right)


def matches(doc: dict[str, Any], node: Node) -> bool:
    """Whether a resource (its JSON) satisfies a filter; raises :class:`InvalidFilter`."""
    if isinstance(node, Logical):
        left, right = matches(doc, node.left), matches(doc, node.right)
        return left and right if node.op == "and" else left or right
    if isinstance(node, Not):
        return not matches(doc, node.inner)
    if isinstance(node, Present):
        top = _container(doc, node.attr)
        if node.attr.sub is None:
            return not empty(top)
        return any(not empty(value) for value in values_at(doc, node.attr))
    if isinstance(node, ValuePath):
        top = _container(doc, node.attr)
        items = top if isinstance(top, list) else ([top] if isinstance(top, dict) else [])
        return any(
            isinstance(item, dict) and matches_element(item, node.attr, node.inner)
            for item in items
        )
    kind = _kind(node.attr)
    case_exact = node.attr.dotted in CASE_EXACT
    if node.op == "ne":
        return not matches(doc, Compare(node.attr, "eq", node.value))
    return any(
        _compare_one(kind, case_exact, actual, node.op, node.value)
        for actual in values_at(doc, node.attr)
    )


def matches_element(element: dict[str, Any], parent: Attr, node: Node) -> bool:
    """A value path's filter, on one value of the multi-valued attribute ``parent``."""
    if isinstance(node, Logical):
        left = matches_element(element, parent, node.left)
        right = matches_element(element, parent, node.right)
        return left and right if node.op == "and" else left or right
    if isinstance(node, Not):
        return not matches_element(element, parent, node.inner)
    assert isinstance(node, Compare | Present), "value paths do not nest"
    actual = get_key(element, node.attr.name)
    if isinstance(node, Present):
        return not empty(actual)
    qualified = Attr(parent.name, node.attr.name, parent.urn)
    if node.op == "ne":
        return not matches_element(element, parent, Compare(node.attr, "eq", node.value))
    if actual is None:
        return False
    kind = _kind(qualified)
    return _compare_one(kind, qualified.dotted in CASE_EXACT, actual, node.op, node.value)


def select(docs: list[dict[str, Any]], node: Node) -> set[str]:
    """The ids of the resources a filter selects."""
    return {doc["id"] for doc in docs if matches(doc, node)}


# --- Sorting (RFC 7644 §3.4.2.3) ----------------------------------------------------------


def sort_value(doc: dict[str, Any], attr: Attr) -> Any:
    """The value a resource sorts by: a multi-valued attribute's primary value, else its first."""
    top = _container(doc, attr)
    if isinstance(top, list):
        entries = [entry for entry in top if isinstance(entry, dict)]
        chosen = next((e for e in entries if get_key(e, "primary") is True), None)
        if chosen is None and entries:
            chosen = entries[0]
        value = get_key(chosen, attr.sub or "value") if chosen is not None else None
    else:
        value = values_at(doc, attr)[0] if values_at(doc, attr) else None
    if value is None:
        return None  # "" is data, and sorts first
    if _kind(attr) == "datetime":
        return _instant(value)
    if isinstance(value, str) and attr.dotted not in CASE_EXACT:
        return value.lower()
    return value


def sort(docs: list[dict[str, Any]], attr: Attr, *, descending: bool) -> list[dict[str, Any]]:
    """Ascending: values low to high, missing last; descending: missing first, high to low."""
    present = [doc for doc in docs if sort_value(doc, attr) is not None]
    missing = [doc for doc in docs if sort_value(doc, attr) is None]
    present.sort(key=lambda doc: (sort_value(doc, attr), doc["id"]), reverse=descending)
    missing.sort(key=lambda doc: str(doc["id"]), reverse=descending)
    return missing + present if descending else present + missing


# --- PATCH (RFC 7644 §3.5.2) -----------------------------------------------------------------


class PatchRefused(Exception):
    """The RFC (or scimgate's documented rules) make the whole PATCH request fail."""


@dataclass(frozen=True)
class Path:
    """A PATCH path: ``attr[filter].sub``, each part optional but the attribute."""

    attr: Attr
    filter: Node | None = None
    sub: str | None = None


def render_path(path: Path, spelling: Spelling = Spelling()) -> str:
    text = render_attr(path.attr, spelling)
    if path.filter is not None:
        text += f"[{render(path.filter, spelling)}]"
    if path.sub is not None:
        text += f".{spelling.recase(path.sub)}"
    return text


@dataclass
class Operation:
    op: str
    path: Path | None
    value: Any = None
    has_value: bool = True

    def body(
        self, spelling: Spelling = Spelling(), op_spelling: str | None = None
    ) -> dict[str, Any]:
        out: dict[str, Any] = {"op": op_spelling or self.op}
        if self.path is not None:
            out["path"] = render_path(self.path, spelling)
        if self.has_value:
            out["value"] = self.value
        return out


@dataclass
class Schema:
    """The attributes a resource type has, as far as the PATCH tests reach."""

    simple: dict[str, type | tuple[type, ...]]
    """Single-valued simple attributes and their JSON type, keyed by canonical name."""

    complex: dict[str, dict[str, type | tuple[type, ...]]]
    """Single-valued complex attributes and the types of their sub-attributes."""

    multi: dict[str, dict[str, type | tuple[type, ...]]]
    """Multi-valued complex attributes and the types of their sub-attributes."""

    required: frozenset[str] = frozenset()
    read_only: frozenset[str] = frozenset()
    spelled: dict[str, str] = field(default_factory=dict)
    """Canonical lower-case name -> the schema's spelling."""

    references: frozenset[str] | None = None
    """For a group: the ids a member may name (users and groups of its directory).

    scimgate documents that a member naming anything else fails the whole PATCH.
    """


def _canonical(schema: Schema, name: str) -> str:
    return schema.spelled.get(name.lower(), name)


def _type_ok(value: Any, wanted: type | tuple[type, ...]) -> bool:
    if wanted is bool:
        # Microsoft Entra sends "True"/"False"; scimgate documents accepting them.
        return isinstance(value, bool) or value in ("True", "False", "true", "false")
    return isinstance(value, wanted) and not isinstance(value, bool)


def _coerce(value: Any, wanted: type | tuple[type, ...]) -> Any:
    if wanted is bool and isinstance(value, str):
        return value.lower() == "true"
    return value


def _holder(doc: dict[str, Any], attr: Attr, create: bool) -> dict[str, Any] | None:
    if attr.urn == ENTERPRISE:
        found = doc.get(ENTERPRISE)
        if found is None and create:
            found = doc[ENTERPRISE] = {}
        return found if isinstance(found, dict) else None
    return doc


def _schema_name(attr: Attr) -> str:
    return (
        f"{ENTERPRISE.lower()}:{attr.name.lower()}" if attr.urn == ENTERPRISE else attr.name.lower()
    )


def _check_value(schema: Schema, name: str, sub: str | None, value: Any, element: bool) -> Any:
    """The value in stored form, or :class:`PatchRefused` when it does not fit."""
    if name in schema.simple:
        wanted = schema.simple[name]
        if not _type_ok(value, wanted):
            raise PatchRefused(f"{name}: {value!r} is not a {wanted}")
        return _coerce(value, wanted)
    subs = schema.complex.get(name) or schema.multi.get(name)
    assert subs is not None, name
    if sub is not None:
        if sub.lower() not in {s.lower() for s in subs}:
            raise PatchRefused(f"{name}.{sub} is no attribute")
        wanted = next(t for s, t in subs.items() if s.lower() == sub.lower())
        if not _type_ok(value, wanted):
            raise PatchRefused(f"{name}.{sub}: {value!r} is not a {wanted}")
        canonical = CANONICAL.get(f"{name}.{sub.lower()}", ())
        if isinstance(value, str) and value.lower() in canonical:
            return value.lower()
        return _coerce(value, wanted)
    if name in schema.multi and not element:
        values = value if isinstance(value, list) else [value]
        return [_check_value(schema, name, None, item, True) for item in values]
    if not isinstance(value, dict):
        raise PatchRefused(f"{name}: {value!r} is not an object")
    if (
        name == "members"
        and schema.references is not None
        and get_key(value, "value") not in schema.references
    ):
        raise PatchRefused(f"members: no resource {get_key(value, 'value')!r} to add")
    checked = {}
    for key, item in value.items():
        sub_name = next((s for s in subs if s.lower() == key.lower()), None)
        if sub_name is None:
            raise PatchRefused(f"{name}.{key} is no attribute")
        if item is not None:
            checked[sub_name] = _check_value(schema, name, sub_name, item, True)
    return checked


def _set_primary_unique(values: list[dict[str, Any]], chosen: list[dict[str, Any]]) -> None:
    """A value set primary makes the others non-primary (RFC 7644 §3.5.2).

    An operation that makes several values primary at once cannot be carried
    out that way: "primary" may be true once at most (RFC 7643 §2.4).
    """
    if sum(value.get("primary") is True for value in chosen) > 1:
        raise PatchRefused("several values made primary")
    if any(value.get("primary") is True for value in chosen):
        for value in values:
            if value.get("primary") is True and not any(value is c for c in chosen):
                value["primary"] = False


def _apply(doc: dict[str, Any], schema: Schema, operation: Operation) -> None:
    op = operation.op.lower()
    if op not in ("add", "replace", "remove"):
        raise PatchRefused(f"unknown op {operation.op}")
    path = operation.path
    if path is None:
        if op == "remove":
            raise PatchRefused("remove needs a path (noTarget)")
        if not isinstance(operation.value, dict):
            raise PatchRefused("a no-path value must be an object")
        for key, item in operation.value.items():
            _apply(doc, schema, Operation(op, _path_of_key(key), item))
        return
    name = _schema_name(path.attr)
    if name in schema.read_only:
        raise PatchRefused(f"{name} is read-only")
    known = name in schema.simple or name in schema.complex or name in schema.multi
    if not known:
        raise PatchRefused(f"{name} is no attribute")
    holder = _holder(doc, path.attr, create=op != "remove")
    if holder is None:
        return  # remove under an absent extension: nothing to remove
    key = _canonical(schema, path.attr.name)
    sub = path.sub if path.sub is not None else path.attr.sub
    if op == "remove":
        if name == "members" and path.filter is None and operation.has_value:
            # scimgate documents Microsoft Entra's removal of the members a value lists.
            listed = operation.value if isinstance(operation.value, list) else [operation.value]
            if not all(isinstance(item, dict) and get_key(item, "value") for item in listed):
                raise PatchRefused("members to remove are listed as {value: id}")
            gone = {get_key(item, "value") for item in listed}
            kept = [m for m in holder.get(key) or [] if get_key(m, "value") not in gone]
            holder[key] = kept
            return
        _remove(holder, schema, name, key, path, sub)
        return
    if operation.value is None:
        raise PatchRefused("add and replace need a value")
    if name in schema.multi:
        _add_or_replace_multi(holder, schema, name, key, path, sub, op, operation.value)
    elif name in schema.complex:
        if sub is None:
            value = _check_value(schema, name, None, operation.value, False)
            current = holder.get(key) if isinstance(holder.get(key), dict) else {}
            # Sub-attributes not given are left unchanged, for add and replace alike.
            holder[key] = {**current, **value}
        else:
            value = _check_value(schema, name, sub, operation.value, True)
            current = holder.get(key) if isinstance(holder.get(key), dict) else {}
            holder[key] = {**current, _sub_spelling(schema, name, sub): value}
    else:
        holder[key] = _check_value(schema, name, None, operation.value, False)


def _same(name: str, left: dict[str, Any], right: dict[str, Any]) -> bool:
    def comparable(value: dict[str, Any]) -> dict[str, Any]:
        return {
            key.lower(): item.lower()
            if isinstance(item, str) and f"{name}.{key.lower()}" not in CASE_EXACT
            else item
            for key, item in value.items()
        }

    return comparable(left) == comparable(right)


def _sub_spelling(schema: Schema, name: str, sub: str) -> str:
    subs = schema.complex.get(name) or schema.multi.get(name) or {}
    return next(s for s in subs if s.lower() == sub.lower())


def _add_or_replace_multi(
    holder: dict[str, Any],
    schema: Schema,
    name: str,
    key: str,
    path: Path,
    sub: str | None,
    op: str,
    value: Any,
) -> None:
    current: list[dict[str, Any]] = list(holder.get(key) or [])
    if path.filter is None and sub is None:
        new = _check_value(schema, name, None, value, False)
        if op == "replace":
            _set_primary_unique(new, new)
            holder[key] = new
            return
        # A value already there is not added again (RFC 7644 §3.5.2.1), compared as its
        # sub-attributes compare: an e-mail address in other case is the same address.
        added = [item for item in new if not any(_same(name, item, c) for c in current)]
        _set_primary_unique(current + added, added)
        holder[key] = current + added
        return
    if path.filter is None:
        raise PatchRefused("a sub-attribute of a multi-valued attribute needs a value filter")
    chosen = [item for item in current if matches_element(item, path.attr, path.filter)]
    if sub is None:
        if op != "replace":
            raise PatchRefused("add with a value filter and no sub-attribute")
        replacement = _check_value(schema, name, None, value, True)
        if not chosen:
            # scimgate's documented tolerance, as for a sub-attribute below.
            current.append(_created(name, path.filter, replacement))
            _set_primary_unique(current, current[-1:])
            holder[key] = current
            return
        # Each selected value is replaced where it stands.
        replaced = [
            dict(replacement) if any(item is c for c in chosen) else item for item in current
        ]
        _set_primary_unique(
            replaced, [item for item, old in zip(replaced, current, strict=True) if old is not item]
        )
        holder[key] = replaced
        return
    checked = _check_value(schema, name, sub, value, True)
    spelled = _sub_spelling(schema, name, sub)
    if not chosen:
        # scimgate documents this Entra tolerance: add/replace on a filtered path that
        # selects nothing creates the value the filter describes, with the sub-attribute.
        created = _created(name, path.filter, {spelled: checked})
        current.append(created)
        _set_primary_unique(current, [created])
        holder[key] = current
        return
    for item in chosen:
        item[spelled] = checked
    _set_primary_unique(current, chosen)
    holder[key] = current


CREATED_ON_TYPE = {
    "emails": ("work", "home", "other"),
    "phonenumbers": ("work", "home", "mobile", "fax", "pager", "other"),
    "ims": ("aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"),
    "photos": ("photo", "thumbnail"),
    "addresses": ("work", "home", "other"),
}
"""The canonical types of RFC 7643 §4.1.2 an unmatched ``type eq`` filter may create."""


def _created(name: str, node: Node, value: dict[str, Any]) -> dict[str, Any]:
    """The value an ``add``/``replace`` creates when its filter selects none.

    RFC 7644 §3.5.2.3 answers 400 noTarget; scimgate documents creating the
    value instead (Microsoft Entra relies on it) for one filter only:
    ``type eq "<canonical type>"`` on a typed attribute, the value not contradicting it.
    """
    if not (
        isinstance(node, Compare)
        and node.op == "eq"
        and node.attr.name.lower() == "type"
        and node.attr.sub is None
        and isinstance(node.value, str)
        and node.value.lower() in CREATED_ON_TYPE.get(name.lower(), ())
    ):
        raise PatchRefused("noTarget: the filter selects no value")
    described = {node.attr.name: node.value}
    for key, said in described.items():
        given = get_key(value, key)
        same = given == said or (
            isinstance(given, str) and isinstance(said, str) and given.lower() == said.lower()
        )
        if given is not None and not same:
            raise PatchRefused("the value contradicts the filter it would be created from")
    return {**{k: v for k, v in described.items() if get_key(value, k) is None}, **value}


DEDUPLICATED = frozenset(CREATED_ON_TYPE) | {"entitlements", "roles", "x509certificates"}


def _collapsed(values: list[Any]) -> list[Any]:
    """Each value once (RFC 7643 §2.4), compared without case and without primary/display;
    a value sent twice stays where it came first, primary if either copy was."""
    kept: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for value in values:
        identity = {
            k.lower(): v.lower() if isinstance(v, str) else v
            for k, v in value.items()
            if k.lower() not in ("primary", "display")
        }
        first = next((each for each in kept if each[0] == identity), None)
        if first is None:
            kept.append((identity, dict(value)))
        elif value.get("primary") is True:
            first[1]["primary"] = True
    return [value for _, value in kept]


def _remove(
    holder: dict[str, Any], schema: Schema, name: str, key: str, path: Path, sub: str | None
) -> None:
    if name in schema.required and sub is None and path.filter is None:
        raise PatchRefused(f"{name} is required")
    if name in schema.multi:
        current: list[dict[str, Any]] = list(holder.get(key) or [])
        if path.filter is None and sub is None:
            holder.pop(key, None)
            return
        if path.filter is None:
            raise PatchRefused("a sub-attribute of a multi-valued attribute needs a value filter")
        chosen = [item for item in current if matches_element(item, path.attr, path.filter)]
        if sub is None:
            kept = [item for item in current if not any(item is c for c in chosen)]
        else:
            spelled = _sub_spelling(schema, name, sub)
            kept = []
            for item in current:
                if any(item is c for c in chosen):
                    item = {k: v for k, v in item.items() if k != spelled}
                kept.append(item)
        holder[key] = kept
        return
    if sub is not None and name in schema.complex:
        current_complex = holder.get(key)
        if isinstance(current_complex, dict):
            spelled = _sub_spelling(schema, name, sub)
            holder[key] = {k: v for k, v in current_complex.items() if k != spelled}
        return
    holder.pop(key, None)


def _path_of_key(key: str) -> Path:
    """A no-path value's key as a path: ``name``, ``name.sub`` or URN-qualified."""
    if key.lower().startswith(ENTERPRISE.lower() + ":"):
        rest = key[len(ENTERPRISE) + 1 :]
        name, _, sub = rest.partition(".")
        return Path(Attr(name, sub or None, ENTERPRISE))
    if key.lower() == ENTERPRISE.lower():
        return Path(Attr("", None, ENTERPRISE))
    name, _, sub = key.partition(".")
    return Path(Attr(name, sub or None))


def apply_patch(doc: dict[str, Any], schema: Schema, operations: list[Operation]) -> dict[str, Any]:
    """The document after the operations, all applied; :class:`PatchRefused` if one fails."""
    result = copy.deepcopy(doc)
    for operation in operations:
        if (
            operation.path is None
            and isinstance(operation.value, dict)
            and any(k.lower() == ENTERPRISE.lower() for k in operation.value)
        ):
            value = dict(operation.value)
            extension = value.pop(next(k for k in value if k.lower() == ENTERPRISE.lower()))
            if not isinstance(extension, dict):
                raise PatchRefused("the extension must be an object")
            value.update({f"{ENTERPRISE}:{k}": v for k, v in extension.items()})
            operation = Operation(operation.op, None, value)
        _apply(result, schema, operation)
    for key, values in result.items():
        if key.lower() in DEDUPLICATED and isinstance(values, list):
            result[key] = _collapsed(values)
    return normalized(result)


def normalized(doc: Any) -> Any:
    """A document with its unassigned values left out (RFC 7643 §2.5 calls them equivalent).

    The ``schemas`` list is compared as a set, and lists the enterprise
    extension exactly when the resource holds some of its attributes.
    """
    if isinstance(doc, dict):
        out = {}
        for key, value in doc.items():
            if key == "schemas":
                continue
            kept = normalized(value)
            if not empty(kept):
                out[key] = kept
        if "schemas" in doc:
            core = [s for s in doc["schemas"] if s.lower() != ENTERPRISE.lower()]
            out["schemas"] = sorted(core + ([ENTERPRISE] if ENTERPRISE in out else []))
        return out
    if isinstance(doc, list):
        return [normalized(item) for item in doc if not empty(normalized(item))]
    return doc
