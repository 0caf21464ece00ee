"""What the data migrations' tests start from: a schema taken back to an earlier revision."""

from alembic import command
from sqlalchemy import Engine

from scimgate.store.migrate import alembic_config


def migrate_back(engine: Engine, revision: str) -> None:
    """Take the engine's schema back to just after ``revision``."""
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
