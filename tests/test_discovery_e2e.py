"""Discovery endpoints (RFC 7644 §4) tell the truth about the server."""

from conftest import DirectoryClient
from scim_payloads import ENTERPRISE_SCHEMA


def test_service_provider_config(scim: DirectoryClient) -> None:
    config = scim.http.get("/ServiceProviderConfig").json()
    assert config["patch"]["supported"] is True
    assert config["bulk"]["supported"] is True
    assert config["filter"] == {"supported": True, "maxResults": 1000}
    assert config["etag"]["supported"] is True
    assert config["sort"]["supported"] is True
    assert config["changePassword"]["supported"] is False
    assert config["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    assert config["authenticationSchemes"][1]["type"] == "oauth2"  # client credentials


def test_resource_types_and_schemas(scim: DirectoryClient) -> None:
    types = scim.http.get("/ResourceTypes").json()
    assert {t["endpoint"] for t in types["Resources"]} == {"/Users", "/Groups"}
    user_type = scim.http.get("/ResourceTypes/User").json()
    assert user_type["schemaExtensions"][0]["schema"] == ENTERPRISE_SCHEMA
    assert scim.http.get("/ResourceTypes/Pet").status_code == 404
    schemas = scim.http.get("/Schemas").json()
    assert schemas["totalResults"] == 3
    enterprise = scim.http.get(f"/Schemas/{ENTERPRISE_SCHEMA}").json()
    assert "employeeNumber" in {a["name"] for a in enterprise["attributes"]}


def test_descriptions_say_what_each_resource_is(scim: DirectoryClient) -> None:
    """Not the name again ("User"): RFC 7643 §8.7.1 describes a "User Account"."""
    described = {
        each["id"]: each["description"] for each in scim.http.get("/Schemas").json()["Resources"]
    }
    assert described == {
        "urn:ietf:params:scim:schemas:core:2.0:User": "User Account",
        "urn:ietf:params:scim:schemas:core:2.0:Group": "Group of users and groups",
        ENTERPRISE_SCHEMA: "Enterprise User",
    }
    types = scim.http.get("/ResourceTypes").json()["Resources"]
    assert {each["name"]: each["description"] for each in types} == {
        "User": "User Account",
        "Group": "Group of users and groups",
    }
    for each in types:
        single = scim.http.get(f"/ResourceTypes/{each['id']}").json()
        assert single["description"] == each["description"]
