"""culture evidence inputs: author role, location, replies, questions, themes and recognised colleagues (as roles,
locations and keyed pseudonyms, never names) on screenings; roles and locations in the staff directory

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 12:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# None is stored as SQL NULL (not JSON 'null'), so a report can ask "IS NULL".
JSON = sa.JSON(none_as_null=True)


def upgrade() -> None:
    with op.batch_alter_table("screenings") as batch_op:
        batch_op.add_column(sa.Column("author_role", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("location", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("reply_to", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("is_question", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("themes", JSON, nullable=True))
        batch_op.add_column(sa.Column("recipient_roles", JSON, nullable=True))
        batch_op.add_column(sa.Column("recipient_locations", JSON, nullable=True))
        batch_op.add_column(sa.Column("recipient_keys", JSON, nullable=True))
        batch_op.create_index("ix_screenings_org_created_at", ["org", "created_at"])
        batch_op.create_index("ix_screenings_org_location_created_at", ["org", "location", "created_at"])
    with op.batch_alter_table("staff_names") as batch_op:
        batch_op.add_column(sa.Column("role", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("location", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("staff_names") as batch_op:
        batch_op.drop_column("location")
        batch_op.drop_column("role")
    with op.batch_alter_table("screenings") as batch_op:
        batch_op.drop_index("ix_screenings_org_location_created_at")
        batch_op.drop_index("ix_screenings_org_created_at")
        for column in (
            "recipient_keys",
            "recipient_locations",
            "recipient_roles",
            "themes",
            "is_question",
            "reply_to",
            "location",
            "author_role",
        ):
            batch_op.drop_column(column)
