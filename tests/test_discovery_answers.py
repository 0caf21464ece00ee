"""Discovery answers are rendered once for a directory's models, base URL and limits."""

from dataclasses import replace

from scim2_models import Context
from sqlalchemy import Engine

from factories import new_scope, scope_of
from scimgate.api.discovery_answers import DiscoveryAnswers
from scimgate.api.responses import ScimResponse, render
from scimgate.scim.limits import Limits
from scimgate.service.provisioning import discovery, extension_schemas
from scimgate.service.provisioning.scope import Scope

TEAM = "urn:ietf:params:scim:schemas:extension:team:2.0:User"


class Renders:
    """The real rendering of ``/Schemas``, counted."""

    def __init__(self) -> None:
        self.count = 0

    def of(self, scope: Scope) -> ScimResponse:
        self.count += 1
        return render(discovery.schemas(scope), Context.SEARCH_RESPONSE)


def test_an_answer_is_rendered_once_and_given_again_as_it_was(engine: Engine) -> None:
    scope = new_scope(engine, "discovery")
    answers, renders = DiscoveryAnswers(), Renders()
    first = answers.answer(scope, "Schemas", lambda: renders.of(scope))
    again = answers.answer(scope, "Schemas", lambda: renders.of(scope))
    assert renders.count == 1
    assert again.body == first.body == Renders().of(scope).body
    assert again.status_code == 200
    assert again.media_type == first.media_type


def test_another_address_limit_or_schema_gets_its_own_answer(engine: Engine) -> None:
    scope = new_scope(engine, "discovery")
    answers, renders = DiscoveryAnswers(), Renders()
    answers.answer(scope, "Schemas", lambda: renders.of(scope))

    elsewhere = replace(scope, base_url="http://other.example/scim/v2/x")
    moved = answers.answer(elsewhere, "Schemas", lambda: renders.of(elsewhere))
    assert b"http://other.example/scim/v2/x/Schemas/" in moved.body
    limited = replace(scope, limits=Limits(max_results=10))
    answers.answer(limited, "Schemas", lambda: renders.of(limited))
    assert renders.count == 3

    definition = {"id": TEAM, "attributes": [{"name": "squad", "type": "string"}]}
    extension_schemas.register(engine, scope.directory_id, "User", definition)
    registered = scope_of(engine, scope.directory_id)  # the directory's row, as now stored
    found = answers.answer(registered, "Schemas", lambda: renders.of(registered))
    assert renders.count == 4
    assert TEAM.encode() in found.body


def test_the_least_recently_asked_answer_is_dropped_first(engine: Engine) -> None:
    scope = new_scope(engine, "discovery")
    answers, renders = DiscoveryAnswers(kept=2), Renders()
    for name in ("a", "b", "a", "c", "a", "b"):
        answers.answer(scope, name, lambda: renders.of(scope))
    assert renders.count == 4  # a, b, c, then b again: c pushed it out, a was asked since
