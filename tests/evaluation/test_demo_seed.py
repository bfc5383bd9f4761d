"""``carescreen demo seed``: a month of a demo organisation through the real screening path (keyword classifier,
real PII engine), backdated, moderated, audit-clean, and refused the second time."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from evaluation import demo_seed
from evaluation.demo_plan import plan_activity
from evaluation.demo_seed import DemoError, seed_demo
from models.culture_signals import STAFF_ROLES
from service.schemas import ScreenBody
from storage import audit
from storage.tables import Decision, ReviewItem, Screening, utcnow


@pytest.fixture
def seeded(app_state):  # type: ignore[no-untyped-def]
    assert app_state.connect_db()
    app_state.holder.load()
    now = utcnow()
    summary = seed_demo(app_state, org="demo-test", months=1, per_week=40, seed=3, now=now)
    return app_state, summary, now


def _rows(state, model, *where):  # type: ignore[no-untyped-def]
    with state.require_db().read_session() as s:
        return list(s.execute(select(model).where(*where)).scalars())


def test_a_month_is_screened_backdated_across_the_month(seeded) -> None:  # type: ignore[no-untyped-def]
    state, summary, now = seeded
    rows = _rows(state, Screening, Screening.org == "demo-test")
    assert len(rows) == summary.posts > 100
    times = sorted(r.created_at for r in rows)
    start = now - timedelta(days=30.44)
    assert start <= times[0] < start + timedelta(days=4)  # from the first days of the month ...
    assert now - timedelta(days=3) < times[-1] < now  # ... to the last ones, never in the future
    assert len({t.date() for t in times}) >= 25
    kinds = Counter(r.kind for r in rows)
    assert {"post", "comment", "special_mention", "ooo"} <= set(kinds)
    assert all(r.author_role in STAFF_ROLES and r.location for r in rows)
    assert (
        any(r.anonymous for r in rows) and any(r.reply_to for r in rows) and any(r.is_question for r in rows)
    )
    assert summary.audit_ok


def test_mentions_record_the_roles_of_the_colleagues_they_name(seeded) -> None:  # type: ignore[no-untyped-def]
    state, summary, _ = seeded
    mentions = _rows(
        state, Screening, Screening.org == "demo-test", Screening.kind.in_(("special_mention", "ooo"))
    )
    assert mentions and summary.mentions == len(mentions)
    named = [m for m in mentions if m.recipient_roles]
    assert len(named) >= 0.8 * len(mentions)
    assert all(set(m.recipient_roles) <= set(STAFF_ROLES) for m in named)
    assert all(m.recipient_locations and m.recipient_keys for m in named)


def test_held_and_escalated_posts_are_acted_on_at_backdated_times(seeded) -> None:  # type: ignore[no-untyped-def]
    state, summary, now = seeded
    with state.require_db().read_session() as s:
        pairs = s.execute(
            select(Screening, ReviewItem)
            .join(ReviewItem, ReviewItem.screening_id == Screening.id)
            .where(Screening.org == "demo-test")
        ).all()
        decisions = list(s.execute(select(Decision).where(Decision.org == "demo-test")).scalars())
    held = [(scr, it) for scr, it in pairs if scr.decision in ("hold", "block")]
    escalated = [(scr, it) for scr, it in pairs if scr.decision == "escalate"]
    assert held and escalated
    assert summary.by_decision["hold"] + summary.by_decision["block"] == len(held)
    assert any(d.action == "reject" for d in decisions)
    for scr, item in pairs:
        assert item.created_at == scr.created_at
    for scr, item in escalated:  # the lead acted within minutes to hours, not at seeding time
        assert item.acknowledged_at is not None and item.first_action_at == item.acknowledged_at
        assert scr.created_at < item.first_action_at < scr.created_at + timedelta(hours=7)
    decided = [it for _, it in pairs if it.decided_at is not None]
    assert len(decided) == len(decisions) == sum(summary.decisions.values())
    assert all(it.created_at < it.decided_at < now for it in decided)
    assert all(d.labels for d in decisions)


def test_the_audit_chain_verifies(seeded) -> None:  # type: ignore[no-untyped-def]
    state, _, _ = seeded
    with state.require_db().read_session() as s:
        assert audit.verify(s, org="demo-test").ok
        assert audit.verify(s).ok


def test_a_second_run_is_refused_and_adds_nothing(seeded) -> None:  # type: ignore[no-untyped-def]
    state, summary, _ = seeded
    with pytest.raises(DemoError, match="already has activity"):
        seed_demo(state, org="demo-test", months=1, per_week=40, seed=3)
    assert len(_rows(state, Screening, Screening.org == "demo-test")) == summary.posts
    # Another organisation in the same database is still seeded.
    assert seed_demo(state, org="demo-other", months=1, per_week=10, seed=4).posts > 20


def test_no_model_is_a_clear_refusal(monkeypatch, settings) -> None:  # type: ignore[no-untyped-def]
    from storage import model_store

    monkeypatch.setattr(model_store, "get_alias", lambda *a, **k: None)
    with pytest.raises(DemoError, match="carescreen train"):
        demo_seed.require_model(settings)


def test_the_cli_reports_a_refusal(monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from carescreen.cli import main

    def refuse(*_a, **_k):  # type: ignore[no-untyped-def]
        raise DemoError("organisation 'demo' already has activity")

    monkeypatch.setattr(demo_seed, "run_demo", refuse)
    assert main(["demo", "seed", "--org", "demo", "--months", "1"]) == 2
    assert "already has activity" in capsys.readouterr().err


def test_six_months_of_plan_vary_and_hang_together() -> None:
    now = utcnow()
    plan = plan_activity(end=now, months=6, per_week=50, seed=7, prefix="demo")
    assert plan == plan_activity(end=now, months=6, per_week=50, seed=7, prefix="demo")  # deterministic
    assert 1000 < len(plan) < 1700
    assert len({p.post_id for p in plan}) == len(plan)
    assert len({p.text for p in plan}) > 0.6 * len(plan)
    by_id = {p.post_id: p for p in plan}
    for p in plan:
        ScreenBody(**p.body())  # every body is valid for /v1/screen
        if p.reply_to:
            assert by_id[p.reply_to].at < p.at
    groups = Counter(p.group for p in plan)
    assert groups["crisis"] == 2 and 15 <= groups["safeguarding"] <= 27
    assert 0.02 < (groups["toxicity"] + groups["bullying"]) / len(plan) < 0.06
    weeks = Counter((p.at - plan[0].at).days // 7 for p in plan)
    assert weeks[len(weeks) - 2] > weeks[0]  # activity grows as colleagues join
    assert "{" not in "".join(p.text for p in plan)  # every slot filled


def test_the_templates_cover_the_practice_themes() -> None:
    from evaluation.demo_plan import load_templates
    from models.themes import theme_ids

    templates = load_templates()
    assert set(templates["themes"]) == set(theme_ids())
    assert {q["theme"] for q in templates["questions"]} <= {*theme_ids(), "none"}


@pytest.mark.slow
def test_the_cli_path_seeds_with_a_trained_model(tiny_model, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``run_demo`` as ``carescreen demo seed`` runs it: the registered model loaded by ``ModelHolder``."""
    settings = tiny_model[0].model_copy(update={"database_url": f"sqlite:///{tmp_path / 'demo.db'}"})
    summary = demo_seed.run_demo(settings, org="demo", months=1, per_week=10, seed=1)
    assert summary.posts > 20 and summary.audit_ok
    assert summary.mentions_named >= 0.8 * summary.mentions
    with pytest.raises(DemoError, match="already has activity"):
        demo_seed.run_demo(settings, org="demo", months=1, per_week=10, seed=1)
