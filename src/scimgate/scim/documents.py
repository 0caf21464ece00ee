"""Resources served as their JSON documents, without a round trip through the models.

What scimgate stores for a resource is what a read returns (the resource as
validated on its way in, dumped as a response would be), so serving it again
needs no validation: a page of 100 users through the pydantic models costs tens
of milliseconds, writing out their documents a fraction of one. The models are
still used whenever the answer depends on what only they know: an
``attributes`` parameter, an exclusion other than a group's members or a user's
groups, or a directory with its own extension schemas (whose ``returned`` rules
may hide attributes). Both ways give the same JSON; a test holds them to it.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

from scim2_models import Context, ListResponse, Message, Resource, ResponseParameters

from scimgate.records import frozen
from scimgate.scim.jsontext import dumps

LIST_RESPONSE_SCHEMA = str(ListResponse.__schema__)

CORE_PREFIXES = (
    "urn:ietf:params:scim:schemas:core:2.0:user:",
    "urn:ietf:params:scim:schemas:core:2.0:group:",
)
EXCLUDABLE_AS_STORED = frozenset({"members", "groups"})
"""Exclusions a document can honour by itself: whole multi-valued attributes the server adds."""


class Written(NamedTuple):
    """An answer's JSON text, and the value it is the JSON of when it was written from one."""

    text: str
    value: dict[str, Any] | None
    """None when the models wrote the text. Else what parsing ``text`` gives back: the
    provisioning log keeps it instead of parsing the answer again."""


@frozen
class DocumentMeta:
    """What the HTTP layer reads of a resource's ``meta``: its ETag and its URL."""

    version: str | None
    location: str | None


@frozen
class ScimDocument:
    """One resource as the JSON a read returns (``meta`` included)."""

    content: dict[str, Any]
    model: type[Resource[Any]]
    as_stored: bool
    """Whether the content can be served without the models (no extension schemas)."""

    @property
    def id(self) -> str:
        return str(self.content["id"])

    @property
    def meta(self) -> DocumentMeta:
        meta = self.content.get("meta") or {}
        return DocumentMeta(meta.get("version"), meta.get("location"))

    def resource(self) -> Resource[Any]:
        """The resource as its model (validated again)."""
        return self.model.model_validate(self.content)

    def written(self, context: Context, parameters: ResponseParameters[Any] | None) -> Written:
        excluded = _exclusions(parameters) if self.as_stored else None
        if excluded is None:
            text = self.resource().model_dump_json(scim_ctx=context, response_parameters=parameters)
            return Written(text, None)
        content = _without(self.content, excluded)
        return Written(dumps(content), content)


@frozen
class ListDocument:
    """A page of resources (RFC 7644 §3.4.2), written out the way ``ListResponse`` writes it."""

    total_results: int
    start_index: int | None
    resources: list[ScimDocument]
    next_cursor: str | None
    list_model: Callable[..., Message]
    """Builds the models' ``ListResponse`` when the page cannot be served as stored."""

    def models(self) -> list[Resource[Any]]:
        """The page's resources as their models."""
        return [each.resource() for each in self.resources]

    def written(self, context: Context, parameters: ResponseParameters[Any] | None) -> Written:
        excluded = _exclusions(parameters)
        if excluded is None or not all(each.as_stored for each in self.resources):
            page = self.list_model(
                total_results=self.total_results,
                start_index=self.start_index,
                items_per_page=len(self.resources),
                resources=self.models(),
                next_cursor=self.next_cursor,
            )
            text = page.model_dump_json(scim_ctx=context, response_parameters=parameters)
            return Written(text, None)
        content: dict[str, Any] = {
            "schemas": [LIST_RESPONSE_SCHEMA],
            "totalResults": self.total_results,
        }
        if self.start_index is not None:
            content["startIndex"] = self.start_index
        content["itemsPerPage"] = len(self.resources)
        if self.next_cursor is not None:
            content["nextCursor"] = self.next_cursor
        content["Resources"] = [_without(each.content, excluded) for each in self.resources]
        return Written(dumps(content), content)


def _exclusions(parameters: ResponseParameters[Any] | None) -> frozenset[str] | None:
    """The top-level keys to leave out, or None when only the models can answer."""
    if parameters is None:
        return frozenset()
    if parameters.attributes:
        return None
    excluded = frozenset(_bare(name) for name in parameters.excluded_attributes or [])
    return excluded if excluded <= EXCLUDABLE_AS_STORED else None


def _bare(name: str) -> str:
    lowered = name.lower()
    for prefix in CORE_PREFIXES:
        if lowered.startswith(prefix):
            return lowered[len(prefix) :]
    return lowered


def _without(content: dict[str, Any], excluded: frozenset[str]) -> dict[str, Any]:
    if not excluded:
        return content
    return {key: value for key, value in content.items() if key.lower() not in excluded}
