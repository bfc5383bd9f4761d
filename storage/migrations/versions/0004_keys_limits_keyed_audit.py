"""key expiry and last use; rate-limit buckets shared by replicas; keyed per-organisation audit chains and checkpoints

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 12:00:00
"""

import sqlalchemy as sa
from alembic import op

import storage.tables

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UTC = storage.tables.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.add_column(sa.Column("expires_at", UTC, nullable=True))
        batch_op.add_column(sa.Column("last_used_at", UTC, nullable=True))
        batch_op.add_column(sa.Column("replaced_by", sa.Integer(), nullable=True))
    op.create_table(
        "rate_limit_buckets",
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key_id"),
    )
    with op.batch_alter_table("audit_log") as batch_op:
        # The keyed, per-organisation chain: NULL on entries written before it (the legacy unkeyed chain).
        batch_op.add_column(sa.Column("org_seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("mac", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_audit_log_org_seq", ["org", "org_seq"], unique=True)
    op.create_table(
        "audit_org_heads",
        sa.Column("org", sa.String(length=100), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("last_mac", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("org"),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("org", sa.String(length=100), nullable=False),
        sa.Column("org_seq", sa.Integer(), nullable=False),
        sa.Column("mac", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_checkpoints_org", "audit_checkpoints", ["org"])


def downgrade() -> None:
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_org_heads")
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.drop_index("ix_audit_log_org_seq")
        batch_op.drop_column("mac")
        batch_op.drop_column("org_seq")
    op.drop_table("rate_limit_buckets")
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.drop_column("replaced_by")
        batch_op.drop_column("last_used_at")
        batch_op.drop_column("expires_at")
