"""SCIM requests take their own pipeline: the middlewares of the other routes never see them."""

from starlette.testclient import TestClient

from conftest import DirectoryClient
from scimgate.api.app import create_app
from scimgate.config import Settings


def test_a_scim_request_leaves_the_stack_of_the_other_routes_unbuilt(
    database_url: str, scim: DirectoryClient
) -> None:
    app = create_app(Settings(database_url=database_url))
    try:
        # Without its lifespan, the application builds its middleware stack on first use.
        client = TestClient(app)
        answer = client.get(
            f"/scim/v2/{scim.directory_id}/Users",
            headers={"Authorization": f"Bearer {scim.token}", "X-Request-Id": "pipeline-1"},
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["x-request-id"] == "pipeline-1"
        assert answer.headers["cache-control"] == "no-store"
        assert app.middleware_stack is None
        assert client.get("/healthz").status_code == 200
        assert app.middleware_stack is not None
    finally:
        app.state.engine.dispose()
