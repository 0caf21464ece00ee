"""Events (published and held), proof of offboarding, tombstones, webhooks, worker cursors.

The outbox of earlier versions recorded changes without payloads and had no
reader; it is replaced by ``events``.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "worker_cursors",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_worker_cursors")),
    )
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("organization_id", sa.String(length=36), nullable=True),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("description", sa.String(length=200), server_default="", nullable=False),
        sa.Column(
            "event_types",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("revocation_hook", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("disabled_reason", sa.String(length=512), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_webhook_endpoints_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
    )
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_endpoints_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "deprovisionings",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("organization_id", sa.String(length=36), nullable=False),
        sa.Column("directory_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("user_name", sa.String(length=512), nullable=True),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notified_via", sa.String(length=32), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_via", sa.String(length=32), nullable=True),
        sa.Column("alerted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("discarded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["directory_id"],
            ["directories.id"],
            name=op.f("fk_deprovisionings_directory_id_directories"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deprovisionings")),
        sa.UniqueConstraint("event_id", name=op.f("uq_deprovisionings_event_id")),
    )
    with op.batch_alter_table("deprovisionings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deprovisionings_directory_id_requested_at"),
            ["directory_id", "requested_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_deprovisionings_directory_id_user_id"),
            ["directory_id", "user_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_deprovisionings_organization_id_requested_at"),
            ["organization_id", "requested_at"],
            unique=False,
        )

    op.create_table(
        "events",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("organization_id", sa.String(length=36), nullable=False),
        sa.Column("directory_id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=36), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["directory_id"], ["directories.id"], name=op.f("fk_events_directory_id_directories")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_events")),
        sa.UniqueConstraint("id", name=op.f("uq_events_id")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_events_directory_id_resource_id"),
            ["directory_id", "resource_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_events_directory_id_seq"), ["directory_id", "seq"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_events_published_at"), ["published_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_events_organization_id_seq"), ["organization_id", "seq"], unique=False
        )

    op.create_table(
        "held_events",
        sa.Column("position", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("organization_id", sa.String(length=36), nullable=False),
        sa.Column("directory_id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=36), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["directory_id"],
            ["directories.id"],
            name=op.f("fk_held_events_directory_id_directories"),
        ),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_held_events")),
        sa.UniqueConstraint("id", name=op.f("uq_held_events_id")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("held_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_held_events_directory_id_position"),
            ["directory_id", "position"],
            unique=False,
        )

    op.create_table(
        "user_tombstones",
        sa.Column("directory_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("user_name", sa.String(length=512), nullable=True),
        sa.Column("external_id", sa.String(length=512), nullable=True),
        sa.Column(
            "last_state",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["directory_id"],
            ["directories.id"],
            name=op.f("fk_user_tombstones_directory_id_directories"),
        ),
        sa.PrimaryKeyConstraint("directory_id", "user_id", name=op.f("pk_user_tombstones")),
    )
    with op.batch_alter_table("user_tombstones", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_user_tombstones_deleted_at"), ["deleted_at"], unique=False
        )

    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("endpoint_id", sa.String(length=36), nullable=False),
        sa.Column("directory_id", sa.String(length=36), nullable=False),
        sa.Column("event_seq", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name=op.f("fk_webhook_deliveries_endpoint_id_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_deliveries_endpoint_id_directory_id_status_event_seq"),
            ["endpoint_id", "directory_id", "status", "event_seq"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_webhook_deliveries_event_id"), ["event_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_webhook_deliveries_status_next_attempt_at"),
            ["status", "next_attempt_at"],
            unique=False,
        )

    op.create_table(
        "webhook_secrets",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("endpoint_id", sa.String(length=36), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name=op.f("fk_webhook_secrets_endpoint_id_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_secrets")),
    )
    with op.batch_alter_table("webhook_secrets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_secrets_endpoint_id"), ["endpoint_id"], unique=False
        )

    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("delivery_id", sa.String(length=36), nullable=False),
        sa.Column("endpoint_id", sa.String(length=36), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=512), nullable=True),
        sa.Column("response_excerpt", sa.String(length=1024), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["webhook_deliveries.id"],
            name=op.f("fk_webhook_attempts_delivery_id_webhook_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempts")),
    )
    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_attempts_delivery_id"), ["delivery_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_webhook_attempts_endpoint_id_attempted_at"),
            ["endpoint_id", "attempted_at"],
            unique=False,
        )

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_directory_id_seq"))

    op.drop_table("outbox")
    with op.batch_alter_table("directories", schema=None) as batch_op:
        batch_op.add_column(sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("delivery", sa.String(length=16), server_default="live", nullable=False)
        )
        batch_op.add_column(sa.Column("held_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("safety_max_count", sa.Integer(), server_default="50", nullable=False)
        )
        batch_op.add_column(
            sa.Column("safety_max_percent", sa.Integer(), server_default="10", nullable=False)
        )
        batch_op.add_column(
            sa.Column("safety_window_minutes", sa.Integer(), server_default="60", nullable=False)
        )
        batch_op.add_column(sa.Column("safety_reset_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("assignment_group", sa.String(length=512), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("directories", schema=None) as batch_op:
        batch_op.drop_column("assignment_group")
        batch_op.drop_column("safety_reset_at")
        batch_op.drop_column("safety_window_minutes")
        batch_op.drop_column("safety_max_percent")
        batch_op.drop_column("safety_max_count")
        batch_op.drop_column("held_since")
        batch_op.drop_column("delivery")
        batch_op.drop_column("activated_at")

    op.create_table(
        "outbox",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("directory_id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=36), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["directory_id"], ["directories.id"], name=op.f("fk_outbox_directory_id_directories")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_outbox")),
        sa.UniqueConstraint("id", name=op.f("uq_outbox_id")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_directory_id_seq"), ["directory_id", "seq"], unique=False
        )

    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_attempts_endpoint_id_attempted_at"))
        batch_op.drop_index(batch_op.f("ix_webhook_attempts_delivery_id"))

    op.drop_table("webhook_attempts")
    with op.batch_alter_table("webhook_secrets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_secrets_endpoint_id"))

    op.drop_table("webhook_secrets")
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_deliveries_status_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_webhook_deliveries_event_id"))
        batch_op.drop_index(
            batch_op.f("ix_webhook_deliveries_endpoint_id_directory_id_status_event_seq")
        )

    op.drop_table("webhook_deliveries")
    with op.batch_alter_table("user_tombstones", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_tombstones_deleted_at"))

    op.drop_table("user_tombstones")
    with op.batch_alter_table("held_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_held_events_directory_id_position"))

    op.drop_table("held_events")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_organization_id_seq"))
        batch_op.drop_index(batch_op.f("ix_events_published_at"))
        batch_op.drop_index(batch_op.f("ix_events_directory_id_seq"))
        batch_op.drop_index(batch_op.f("ix_events_directory_id_resource_id"))

    op.drop_table("events")
    with op.batch_alter_table("deprovisionings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deprovisionings_organization_id_requested_at"))
        batch_op.drop_index(batch_op.f("ix_deprovisionings_directory_id_user_id"))
        batch_op.drop_index(batch_op.f("ix_deprovisionings_directory_id_requested_at"))

    op.drop_table("deprovisionings")
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_endpoints_organization_id"))

    op.drop_table("webhook_endpoints")
    op.drop_table("worker_cursors")
