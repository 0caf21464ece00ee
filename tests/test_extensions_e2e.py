"""Custom extension schemas registered per directory, used over HTTP on each backend."""

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from scim2_models import SCIMException
from typer.testing import CliRunner

from conftest import DirectoryClient, LiveServer, new_directory
from scim_payloads import GROUP_SCHEMA, USER_SCHEMA, group, patch, user
from scimgate.cli.main import app
from scimgate.scim.extensions import simple_schema
from scimgate.service.administration import attribute_mappings
from scimgate.service.administration.directory_view import directory_users
from scimgate.service.errors import InvalidPath, NotUnique
from scimgate.service.provisioning import extension_schemas

ACME = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"
"""An Entra-style custom extension (``urn:ietf:params:scim:schemas:extension:<name>:2.0:User``)."""

OKTA_TEAM = "urn:okta:acme_app:1.0:group:custom"
"""An Okta-style custom URN, extending groups."""

ACME_DEFINITION: dict[str, Any] = {
    "id": ACME,
    "name": "AcmeUser",
    "description": "What Acme's IdP sends beyond the enterprise extension",
    "attributes": [
        {"name": "costCenter", "type": "string", "multiValued": False},
        {"name": "clearance", "type": "integer", "multiValued": False},
        {"name": "badges", "type": "string", "multiValued": True},
        {
            "name": "site",
            "type": "complex",
            "multiValued": False,
            "subAttributes": [
                {"name": "code", "type": "string"},
                {"name": "floor", "type": "integer"},
            ],
        },
    ],
}


@pytest.fixture
def acme(live_server: LiveServer, scim: DirectoryClient) -> DirectoryClient:
    """A directory whose users may carry the Acme extension."""
    extension_schemas.register(live_server.engine, scim.directory_id, "User", ACME_DEFINITION)
    return scim


def _acme_user(user_name: str, **values: Any) -> dict[str, Any]:
    return {**user(user_name), "schemas": [USER_SCHEMA, ACME], ACME: values}


def test_registered_schema_is_discoverable_in_its_directory_only(
    live_server: LiveServer, acme: DirectoryClient
) -> None:
    listed = acme.http.get("/Schemas").json()
    assert ACME in [schema["id"] for schema in listed["Resources"]]
    served = acme.http.get(f"/Schemas/{ACME}").json()
    assert served["meta"]["location"] == f"{acme.base_url}/Schemas/{ACME}"
    assert [attribute["name"] for attribute in served["attributes"]] == [
        "costCenter",
        "clearance",
        "badges",
        "site",
    ]
    user_type = acme.http.get("/ResourceTypes/User").json()
    assert {"schema": ACME, "required": False} in user_type["schemaExtensions"]

    other = new_directory(live_server)
    assert ACME not in [s["id"] for s in other.http.get("/Schemas").json()["Resources"]]
    assert other.http.get(f"/Schemas/{ACME}").status_code == 404
    assert other.http.post("/Users", json=_acme_user("eve", costCenter="X")).status_code == 400


def test_values_are_validated_stored_and_returned(acme: DirectoryClient) -> None:
    created = acme.http.post(
        "/Users",
        json=_acme_user(
            "ann", costCenter="CC-1", clearance="3", badges=["b1"], site={"code": "P", "floor": 2}
        ),
    )
    assert created.status_code == 201, created.text
    read = acme.http.get(f"/Users/{created.json()['id']}").json()
    assert read[ACME] == {
        "costCenter": "CC-1",
        "clearance": 3,
        "badges": ["b1"],
        "site": {"code": "P", "floor": 2},
    }
    assert ACME in read["schemas"]

    refused = acme.http.post("/Users", json=_acme_user("bob", clearance="top"))
    assert refused.status_code == 400
    assert refused.json()["scimType"] == "invalidValue"
    assert "clearance" in refused.json()["detail"]
    assert (
        acme.http.get("/Users", params={"filter": 'userName eq "bob"'}).json()["totalResults"] == 0
    )


def test_extension_attributes_are_filterable(acme: DirectoryClient) -> None:
    for name, cost_center, clearance in (("a", "CC-1", 1), ("b", "CC-2", 3), ("c", "CC-1", 5)):
        body = _acme_user(name, costCenter=cost_center, clearance=clearance)
        assert acme.http.post("/Users", json=body).status_code == 201

    def names(scim_filter: str) -> list[str]:
        found = acme.http.get("/Users", params={"filter": scim_filter})
        assert found.status_code == 200, found.text
        return sorted(each["userName"] for each in found.json()["Resources"])

    assert names(f'{ACME}:costCenter eq "cc-1"') == ["a", "c"]
    assert names(f"{ACME}:clearance gt 2") == ["b", "c"]
    assert names(f'{ACME}:costCenter eq "CC-1" and {ACME}:clearance ge 5') == ["c"]
    assert names(f"{ACME}:badges pr") == []


def test_extension_attributes_are_patchable_in_every_shape(acme: DirectoryClient) -> None:
    created = acme.http.post("/Users", json=user("dan")).json()
    location = f"/Users/{created['id']}"
    with_path = acme.http.patch(
        location, json=patch({"op": "add", "path": f"{ACME}:costCenter", "value": "CC-9"})
    )
    assert with_path.status_code == 200, with_path.text
    assert with_path.json()[ACME]["costCenter"] == "CC-9"

    # Entra's no-path replace, the attribute named by its URN-qualified path.
    no_path = acme.http.patch(
        location,
        json=patch({"op": "Replace", "value": {f"{ACME}:costCenter": "CC-10", "title": "Eng"}}),
    )
    assert no_path.status_code == 200, no_path.text
    assert no_path.json()[ACME]["costCenter"] == "CC-10"
    assert no_path.json()["title"] == "Eng"

    sub_attribute = acme.http.patch(
        location,
        json=patch(
            {"op": "add", "path": f"{ACME}:site.floor", "value": 4},
            {"op": "add", "path": f"{ACME}:badges", "value": ["b1", "b2"]},
        ),
    )
    assert sub_attribute.status_code == 200, sub_attribute.text
    assert sub_attribute.json()[ACME]["site"] == {"floor": 4}
    assert sub_attribute.json()[ACME]["badges"] == ["b1", "b2"]

    bad_type = acme.http.patch(
        location, json=patch({"op": "replace", "path": f"{ACME}:clearance", "value": "high"})
    )
    assert bad_type.status_code == 400
    assert acme.http.get(location).json()[ACME]["costCenter"] == "CC-10"

    removed = acme.http.patch(location, json=patch({"op": "remove", "path": f"{ACME}:costCenter"}))
    assert "costCenter" not in removed.json()[ACME]


def test_unregistered_attribute_is_refused_with_what_to_do(scim: DirectoryClient) -> None:
    created = scim.http.post("/Users", json=user("fay")).json()
    refused = scim.http.patch(
        f"/Users/{created['id']}",
        json=patch({"op": "replace", "value": {f"{ACME}:costCenter": "CC-1"}}),
    )
    assert refused.status_code == 400
    assert "register" in refused.json()["detail"]
    assert "attribute mappings" in refused.json()["detail"]


def test_group_extension_and_members_in_one_patch(
    live_server: LiveServer, scim: DirectoryClient
) -> None:
    extension_schemas.register(
        live_server.engine,
        scim.directory_id,
        "Group",
        simple_schema(OKTA_TEAM, ["teamCode", "budget:decimal"]),
    )
    member = scim.http.post("/Users", json=user("gil")).json()
    body = {**group("Platform"), "schemas": [GROUP_SCHEMA, OKTA_TEAM], OKTA_TEAM: {"teamCode": "P"}}
    created = scim.http.post("/Groups", json=body)
    assert created.status_code == 201, created.text
    patched = scim.http.patch(
        f"/Groups/{created.json()['id']}",
        json=patch(
            {"op": "replace", "path": f"{OKTA_TEAM}:budget", "value": 12.5},
            {"op": "add", "path": "members", "value": [{"value": member["id"]}]},
        ),
    )
    assert patched.status_code in (200, 204), patched.text
    read = scim.http.get(f"/Groups/{created.json()['id']}").json()
    assert read[OKTA_TEAM] == {"teamCode": "P", "budget": 12.5}
    assert [each["value"] for each in read["members"]] == [member["id"]]
    found = scim.http.get("/Groups", params={"filter": f'{OKTA_TEAM}:teamCode eq "P"'}).json()
    assert found["totalResults"] == 1


def test_attribute_mapping_reads_a_custom_attribute(
    live_server: LiveServer, acme: DirectoryClient
) -> None:
    with pytest.raises(InvalidPath):
        attribute_mappings.set_mapping(
            live_server.engine, acme.directory_id, "team", "urn:example:unknown:2.0:User:team"
        )
    attribute_mappings.set_mapping(
        live_server.engine, acme.directory_id, "acme_cost_center", f"{ACME}:costCenter"
    )
    acme.http.post("/Users", json=_acme_user("hal", costCenter="CC-7"))
    _, found = directory_users(live_server.engine, acme.directory_id, live_server.url, count=10)
    assert found[0].custom_attributes["acme_cost_center"] == "CC-7"


def test_removing_a_schema_removes_its_values(
    live_server: LiveServer, acme: DirectoryClient
) -> None:
    holder = acme.http.post("/Users", json=_acme_user("ida", costCenter="CC-1")).json()
    bystander = acme.http.post("/Users", json=user("jon")).json()

    assert extension_schemas.unregister(live_server.engine, acme.directory_id, ACME) == 1

    after = acme.http.get(f"/Users/{holder['id']}").json()
    assert ACME not in after
    assert ACME not in after["schemas"]
    assert after["meta"]["version"] != holder["meta"]["version"]
    assert (
        acme.http.get(f"/Users/{bystander['id']}").json()["meta"]["version"]
        == bystander["meta"]["version"]
    )
    assert ACME not in [s["id"] for s in acme.http.get("/Schemas").json()["Resources"]]
    assert acme.http.post("/Users", json=_acme_user("kim", costCenter="X")).status_code == 400


@pytest.mark.parametrize(
    ("definition", "complaint"),
    [
        ({"id": "acme-user", "attributes": [{"name": "a", "type": "string"}]}, "URN"),
        ({"id": USER_SCHEMA, "attributes": [{"name": "a", "type": "string"}]}, "built in"),
        ({"id": ACME, "attributes": []}, "at least one attribute"),
        ({"id": ACME, "attributes": [{"name": "cost center", "type": "string"}]}, "letter"),
        ({"id": ACME, "attributes": [{"name": "a", "type": "text"}]}, "type"),
        (
            {"id": ACME, "attributes": [{"name": "a"}, {"name": "A", "type": "string"}]},
            "declared twice",
        ),
        ({"id": ACME, "attributes": [{"name": "site", "type": "complex"}]}, "subAttributes"),
    ],
)
def test_a_bad_definition_is_refused_with_its_reason(
    live_server: LiveServer, scim: DirectoryClient, definition: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(SCIMException) as refused:
        extension_schemas.register(live_server.engine, scim.directory_id, "User", definition)
    assert complaint in str(refused.value.detail)
    assert extension_schemas.registered(live_server.engine, scim.directory_id) == []


def test_a_schema_is_registered_once(live_server: LiveServer, acme: DirectoryClient) -> None:
    with pytest.raises(NotUnique, match="already registered"):
        extension_schemas.register(live_server.engine, acme.directory_id, "User", ACME_DEFINITION)


def test_cli_registers_lists_and_removes_a_schema(
    database_url: str, live_server: LiveServer, scim: DirectoryClient, tmp_path: Path
) -> None:
    runner = CliRunner()

    def invoke(*arguments: str) -> Result:
        return runner.invoke(app, [*arguments, "--database-url", database_url])

    simple = invoke(
        "schemas",
        "add",
        scim.directory_id,
        "--urn",
        ACME,
        "--attribute",
        "costCenter",
        "--attribute",
        "badges:string:multi",
    )
    assert simple.exit_code == 0, simple.output
    definition = tmp_path / "team.json"
    definition.write_text(json.dumps({"id": OKTA_TEAM, "attributes": [{"name": "teamCode"}]}))
    from_file = invoke("schemas", "add", scim.directory_id, str(definition), "--extends", "Group")
    assert from_file.exit_code == 0, from_file.output

    listed = invoke("schemas", "list", scim.directory_id)
    assert ACME in listed.output and OKTA_TEAM in listed.output
    assert "costCenter, badges" in listed.output

    created = scim.http.post("/Users", json=_acme_user("lea", badges=["b1", "b2"]))
    assert created.status_code == 201, created.text

    refused = invoke("schemas", "add", scim.directory_id, "--urn", "not-a-urn", "--attribute", "a")
    assert refused.exit_code != 0
    assert "URN" in refused.output

    removed = invoke("schemas", "remove", scim.directory_id, ACME)
    assert removed.exit_code == 0, removed.output
    assert "1 resource held values" in removed.output
    assert ACME not in invoke("schemas", "list", scim.directory_id).output
