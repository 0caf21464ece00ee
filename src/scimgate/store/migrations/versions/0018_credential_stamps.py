"""Credential stamps: a number per directory that moves whenever its credentials or row change.

Server processes keep the tokens they have seen, with their directory's row,
in memory; before trusting one they read the directory's stamp. Triggers move
it, so no writer (the management API, the CLI, the portal, another process) can
change a directory or revoke a token without every process noticing at its next
request. A token's last-used time is not watched: it changes nothing a request
is answered with.

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_SQLITE_TRIGGERS = (
    """CREATE TRIGGER credential_stamps_directory_inserted AFTER INSERT ON directories
    BEGIN INSERT INTO credential_stamps (directory_id, version) VALUES (NEW.id, 1); END""",
    """CREATE TRIGGER credential_stamps_directory_updated AFTER UPDATE ON directories
    BEGIN UPDATE credential_stamps SET version = version + 1 WHERE directory_id = NEW.id; END""",
    """CREATE TRIGGER credential_stamps_token_changed
    AFTER UPDATE OF revoked_at, secret_hash, directory_id ON scim_tokens
    BEGIN UPDATE credential_stamps SET version = version + 1
    WHERE directory_id IN (OLD.directory_id, NEW.directory_id); END""",
)

_POSTGRESQL_TRIGGERS = (
    """CREATE FUNCTION credential_stamps_directory_inserted() RETURNS trigger
    LANGUAGE plpgsql AS $$ BEGIN
        INSERT INTO credential_stamps (directory_id, version) VALUES (NEW.id, 1);
        RETURN NULL;
    END $$""",
    """CREATE FUNCTION credential_stamps_directory_updated() RETURNS trigger
    LANGUAGE plpgsql AS $$ BEGIN
        UPDATE credential_stamps SET version = version + 1 WHERE directory_id = NEW.id;
        RETURN NULL;
    END $$""",
    """CREATE FUNCTION credential_stamps_token_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$ BEGIN
        UPDATE credential_stamps SET version = version + 1
        WHERE directory_id IN (OLD.directory_id, NEW.directory_id);
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER credential_stamps_directory_inserted AFTER INSERT ON directories
    FOR EACH ROW EXECUTE FUNCTION credential_stamps_directory_inserted()""",
    """CREATE TRIGGER credential_stamps_directory_updated AFTER UPDATE ON directories
    FOR EACH ROW EXECUTE FUNCTION credential_stamps_directory_updated()""",
    """CREATE TRIGGER credential_stamps_token_changed
    AFTER UPDATE OF revoked_at, secret_hash, directory_id ON scim_tokens
    FOR EACH ROW EXECUTE FUNCTION credential_stamps_token_changed()""",
)

_NAMES = (
    ("credential_stamps_directory_inserted", "directories"),
    ("credential_stamps_directory_updated", "directories"),
    ("credential_stamps_token_changed", "scim_tokens"),
)


def upgrade() -> None:
    op.create_table(
        "credential_stamps",
        sa.Column("directory_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("directory_id", name=op.f("pk_credential_stamps")),
    )
    op.execute(
        "INSERT INTO credential_stamps (directory_id, version) SELECT id, 1 FROM directories"
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in _POSTGRESQL_TRIGGERS if postgresql else _SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name, table in _NAMES:
        op.execute(f"DROP TRIGGER {name} ON {table}" if postgresql else f"DROP TRIGGER {name}")
        if postgresql:
            op.execute(f"DROP FUNCTION {name}()")
    op.drop_table("credential_stamps")
