"""webhooks and the transactional outbox; appeals (a second review item per post); urgent acknowledgements

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 11:00:00
"""

import sqlalchemy as sa
from alembic import op

import storage.tables

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# SQLite reflects the unnamed UNIQUE(screening_id) without a name; a naming convention lets batch mode find it.
NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
UTC = storage.tables.UTCDateTime(timezone=True)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("review_items", naming_convention=NAMING if sqlite else None) as batch_op:
        # An appeal is a second review item for the same screening.
        batch_op.drop_constraint(
            "uq_review_items_screening_id" if sqlite else "review_items_screening_id_key", type_="unique"
        )
        batch_op.create_index("ix_review_items_screening_id", ["screening_id"], unique=False)
        batch_op.add_column(sa.Column("kind", sa.String(length=10), server_default="screen", nullable=False))
        batch_op.add_column(sa.Column("excluded_moderator", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("acknowledged_at", UTC, nullable=True))
        batch_op.add_column(sa.Column("acknowledged_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("sla_notified_at", UTC, nullable=True))

    op.create_table(
        "appeals",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org", sa.String(length=100), nullable=False),
        sa.Column("screening_id", sa.String(length=36), nullable=False),
        sa.Column("post_id", sa.String(length=200), nullable=False),
        sa.Column("review_id", sa.String(length=36), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["screening_id"], ["screenings.id"]),
        sa.ForeignKeyConstraint(["review_id"], ["review_items.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("screening_id"),
    )
    op.create_index("ix_appeals_org", "appeals", ["org"])
    op.create_index("ix_appeals_review_id", "appeals", ["review_id"])

    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org", sa.String(length=100), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=True),
        sa.Column("secret_enc", sa.Text(), nullable=False),
        sa.Column("previous_secret_enc", sa.Text(), nullable=True),
        sa.Column("previous_valid_until", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("deleted_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_webhook_endpoints_org", "webhook_endpoints", ["org"])

    op.create_table(
        "outbox_events",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("org", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("post_id", sa.String(length=200), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_outbox_events_org", "outbox_events", ["org"])

    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("endpoint_id", sa.String(length=36), nullable=False),
        sa.Column("org", sa.String(length=100), nullable=False),
        sa.Column("ordering_key", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC, nullable=False),
        sa.Column("window_start", UTC, nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", UTC, nullable=True),
        sa.Column("last_attempt_at", UTC, nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("delivered_at", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["outbox_events.id"]),
        sa.ForeignKeyConstraint(["endpoint_id"], ["webhook_endpoints.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id", "endpoint_id"),
    )
    op.create_index("ix_webhook_deliveries_endpoint_id", "webhook_deliveries", ["endpoint_id"])
    op.create_index("ix_webhook_deliveries_org", "webhook_deliveries", ["org"])
    op.create_index("ix_webhook_deliveries_status", "webhook_deliveries", ["status"])
    op.create_index("ix_webhook_deliveries_next_attempt_at", "webhook_deliveries", ["next_attempt_at"])


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("outbox_events")
    op.drop_table("webhook_endpoints")
    op.drop_table("appeals")
    with op.batch_alter_table("review_items") as batch_op:
        for col in ("sla_notified_at", "acknowledged_by", "acknowledged_at", "excluded_moderator", "kind"):
            batch_op.drop_column(col)
        batch_op.drop_index("ix_review_items_screening_id")
        batch_op.create_unique_constraint("uq_review_items_screening_id", ["screening_id"])
