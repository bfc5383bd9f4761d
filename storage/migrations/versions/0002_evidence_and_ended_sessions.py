"""screening evidence spans; console sessions ended on the server; per-organisation confidentiality holds

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 07:00:00
"""

import sqlalchemy as sa
from alembic import op

import storage.tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("screenings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("evidence", sa.JSON(), nullable=True))
    with op.batch_alter_table("org_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("confidentiality", sa.JSON(), nullable=True))
    op.create_table(
        "ended_sessions",
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("ended_at", storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("session_hash"),
    )


def downgrade() -> None:
    op.drop_table("ended_sessions")
    with op.batch_alter_table("org_settings", schema=None) as batch_op:
        batch_op.drop_column("confidentiality")
    with op.batch_alter_table("screenings", schema=None) as batch_op:
        batch_op.drop_column("evidence")
