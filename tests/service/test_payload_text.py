"""A user's event payload is written as JSON by orjson, extension or not (``events.encoding``).

orjson refuses a key that is not exactly a ``str``; an extension's key in the models'
dump order is its schema's ``URN``, a subclass, and such a payload quietly took
pydantic's slower path. Every event of a user holding the enterprise extension (all of
Microsoft Entra ID's and Okta's users) did.
"""

import orjson
from scim2_models import Context
from sqlalchemy import Engine

from factories import new_scope
from scim_payloads import ENTERPRISE_SCHEMA, USER_SCHEMA
from scimgate.events.encoding import encoded
from scimgate.events.models import UserData
from scimgate.scim.requests import read_resource
from scimgate.service.event_stream.changes import changing
from scimgate.service.provisioning import users


def test_a_user_with_the_enterprise_extension_is_written_by_orjson(engine: Engine) -> None:
    scope = new_scope(engine)
    body = {
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "userName": "ada@example.com",
        "active": True,
        ENTERPRISE_SCHEMA: {"department": "Engineering", "employeeNumber": "42"},
    }
    model = read_resource(
        scope.models.user, body, Context.RESOURCE_CREATION_REQUEST, "user", scope.users_url
    )
    user_id = users.create_user(scope, model).id
    with changing(engine, scope.directory_id) as work:  # records nothing: publishes nothing
        user = work.builder.user(user_id)
    assert all(type(key) is str for key in user.raw)
    payload = encoded(UserData(user=user))
    assert isinstance(payload, orjson.Fragment)
    written = orjson.loads(orjson.dumps(payload))
    assert written["user"]["raw"][ENTERPRISE_SCHEMA]["department"] == "Engineering"
