"""What the application built to start is left out of the garbage collector's passes while
it serves (a full pass over it held the event loop for tens of milliseconds), and the
youngest objects are passed over less often; both are undone when it stops."""

import gc
from pathlib import Path

from starlette.testclient import TestClient

from scimgate.api.app import YOUNG_COLLECTION, create_app
from scimgate.config import Settings
from scimgate.store.engine import open_engine
from scimgate.store.migrate import upgrade


def test_what_starting_built_is_frozen_while_the_application_serves(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'scimgate.db'}"
    upgrade(open_engine(url))
    app = create_app(Settings(database_url=url))
    assert gc.get_freeze_count() == 0
    before = gc.get_threshold()
    assert before[0] != YOUNG_COLLECTION
    with TestClient(app):
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (YOUNG_COLLECTION, *before[1:])
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before
