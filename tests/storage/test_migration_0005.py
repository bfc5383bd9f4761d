"""Migration 0005 (culture evidence) on a database holding 0004-era rows, up and down, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from storage.db import MIGRATIONS_DIR
from storage.tables import utcnow

SCREENING_COLUMNS = {
    "author_role": sa.String,
    "location": sa.String,
    "reply_to": sa.String,
    "is_question": sa.Boolean,
    "themes": sa.JSON,
    "recipient_roles": sa.JSON,
    "recipient_locations": sa.JSON,
    "recipient_keys": sa.JSON,
}


def _config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _columns(engine: sa.Engine, table: str) -> dict[str, dict[str, object]]:
    return {c["name"]: c for c in sa.inspect(engine).get_columns(table)}


def _one_post_per_id(engine: sa.Engine) -> bool:
    """The idempotency constraint survives (SQLite's batch mode rebuilds the table)."""
    return any(
        u["column_names"] == ["org", "post_id"]
        for u in sa.inspect(engine).get_unique_constraints("screenings")
    )


def test_0005_up_and_down_with_existing_rows(database_url: str) -> None:
    cfg = _config(database_url)
    command.upgrade(cfg, "0004")
    engine = sa.create_engine(database_url)
    try:
        meta = sa.MetaData()
        with engine.begin() as conn:
            scr = sa.Table("screenings", meta, autoload_with=conn)
            names = sa.Table("staff_names", meta, autoload_with=conn)
            conn.execute(
                scr.insert().values(
                    id="s-1",
                    org="o",
                    post_id="p-1",
                    decision="allow",
                    redacted_text="Nice day",
                    scores={},
                    flags=[],
                    entities=[],
                    kept=[],
                    reasons=[],
                    degraded=[],
                    evidence={},
                    author_message="",
                    model_version="m",
                    policy_version="p",
                    kind="post",
                    anonymous=False,
                    created_at=utcnow(),
                )
            )
            conn.execute(names.insert().values(org="o", name="Sam Taylor"))

        command.upgrade(cfg, "head")
        engine.dispose()  # PostgreSQL: reflect the new columns, not a cached plan
        cols = _columns(engine, "screenings")
        for name, kind in SCREENING_COLUMNS.items():
            assert isinstance(cols[name]["type"], kind), (name, cols[name]["type"])
        assert cols["is_question"]["nullable"] is False
        assert all(cols[n]["nullable"] for n in SCREENING_COLUMNS if n != "is_question")
        assert {"role", "location"} <= _columns(engine, "staff_names").keys()
        indexes = {i["name"] for i in sa.inspect(engine).get_indexes("screenings")}
        assert {"ix_screenings_org_created_at", "ix_screenings_org_location_created_at"} <= indexes
        assert _one_post_per_id(engine)
        with engine.begin() as conn:
            row = conn.execute(
                sa.text(
                    "SELECT is_question, location, themes, recipient_keys FROM screenings WHERE id = 's-1'"
                )
            ).one()
            assert (bool(row.is_question), row.location, row.themes, row.recipient_keys) == (
                False,
                None,
                None,
                None,
            )
            staff = conn.execute(sa.text("SELECT name, role, location FROM staff_names")).one()
            assert tuple(staff) == ("Sam Taylor", None, None)

        command.downgrade(cfg, "0004")
        engine.dispose()
        assert not SCREENING_COLUMNS.keys() & _columns(engine, "screenings").keys()
        assert not {"role", "location"} & _columns(engine, "staff_names").keys()
        assert _one_post_per_id(engine)
        with engine.begin() as conn:
            assert conn.execute(sa.text("SELECT post_id FROM screenings")).scalar_one() == "p-1"
        command.upgrade(cfg, "head")  # and up again
    finally:
        engine.dispose()
