"""The application's state: Starlette's ``State``, its values also plain attributes."""

from pathlib import Path

from scimgate.api.app import create_app
from scimgate.api.app_state import AppState
from scimgate.config import Settings


def test_values_are_plain_attributes_and_kept_in_the_state_dict() -> None:
    state = AppState()
    state.engine = "engine"
    assert vars(state)["engine"] == "engine"  # read without ``__getattr__``
    assert state._state == {"engine": "engine"}
    state.engine = "another"
    assert state.engine == "another" and state._state["engine"] == "another"
    del state.engine
    assert getattr(state, "engine", None) is None and state._state == {}


def test_the_application_keeps_its_services_as_attributes(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'state.db'}")
    app = create_app(settings)
    try:
        assert isinstance(app.state, AppState)
        for name in ("settings", "engine", "credentials", "rate_limiter"):
            assert name in vars(app.state)
    finally:
        app.state.engine.dispose()
