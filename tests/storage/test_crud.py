"""Data access on SQLite and PostgreSQL: keys, screenings, race-free claims, exactly-once decisions, retention."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from storage import audit, keys, retention, reviews, screenings
from storage.crypto import Vault
from storage.db import Database
from storage.tables import ApiKey, AuditEntry, Decision, utcnow
from tests.helpers import store_screening


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    d = Database(database_url)
    yield d
    d.dispose()


def fields(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "decision": "hold",
        "priority": "normal",
        "redacted_text": "[RESIDENT] was called an idiot",
        "scores": {"toxicity": 0.97},
        "flags": ["toxicity"],
        "entities": [],
        "kept": [],
        "reasons": ["toxicity"],
        "degraded": [],
        "author_message": "held",
        "model_version": "m/1",
        "policy_version": "p/1",
        "kind": "post",
        "circle": None,
        "anonymous": False,
        "author_id": "a1",
        "author_enc": None,
        "original_enc": "enc",
    }
    return base | over


def record(
    db: Database, post_id: str, *, org: str = "org-a", priority: str | None = "normal", **over: Any
) -> str | None:
    with db.session() as s:
        _, item = store_screening(
            s,
            org=org,
            post_id=post_id,
            fields=fields(**over),
            review_priority=priority,
            risk=0.9,
            categories=["toxicity"],
            sla_due_minutes=60,
            actor="test",
        )
        return item.id if item else None


def test_keys_create_authenticate_revoke(db: Database) -> None:
    with db.session() as s:
        row, plaintext = keys.create_api_key(s, org="org-a", role="moderator", label="night shift")
        key_id = row.id
    assert plaintext.startswith("cs_")
    with db.session() as s:
        found = keys.authenticate(s, plaintext=plaintext)
        assert found is not None and (found.id, found.org, found.role) == (key_id, "org-a", "moderator")
        for bad in (
            "",
            "cs_",
            plaintext + "x",
            plaintext[:-1],
            "cs_nope_nope",
            plaintext.replace("cs_", "xx_", 1),
        ):
            assert keys.authenticate(s, plaintext=bad) is None
        stored = s.get(ApiKey, key_id)
        assert (
            stored is not None
            and stored.key_hash != plaintext
            and plaintext.split("_", 2)[2] not in stored.key_hash
        )
        assert not keys.revoke_api_key(s, org="org-b", key_id=key_id)  # another org cannot revoke it
        assert not keys.revoke_api_key(s, org="org-a", key_id=999_999)
    with db.session() as s:
        assert keys.authenticate(s, plaintext=plaintext) is not None
        assert keys.revoke_api_key(s, org="org-a", key_id=key_id)
    with db.session() as s:
        assert keys.authenticate(s, plaintext=plaintext) is None
        actions = [
            e.action for e in s.execute(select(audit.AuditEntry).order_by(audit.AuditEntry.seq)).scalars()
        ]
        assert actions == ["key.create", "key.revoke"]


@pytest.mark.parametrize(("org", "role"), [("org-a", "root"), ("", "poster"), ("x" * 101, "poster")])
def test_create_key_rejects_bad_input(db: Database, org: str, role: str) -> None:
    with db.session() as s, pytest.raises(ValueError):
        keys.create_api_key(s, org=org, role=role)


def test_record_screening_and_review(db: Database) -> None:
    rid = record(db, "p1")
    assert record(db, "p2", priority=None, decision="allow") is None
    with db.session() as s:
        row = screenings.get_screening(s, org="org-a", post_id="p1")
        assert row is not None and row.decision == "hold" and row.flags == ["toxicity"]
        assert screenings.get_screening(s, org="org-b", post_id="p1") is None
        item = reviews.review_for_screening(s, screening_id=row.id)
        assert item is not None and item.id == rid and item.status == "pending" and item.priority_rank == 2
        assert item.due_at - item.created_at == timedelta(minutes=60)
        allowed = screenings.get_screening(s, org="org-a", post_id="p2")
        assert allowed is not None and reviews.review_for_screening(s, screening_id=allowed.id) is None
        batch = screenings.get_screenings(s, org="org-a", post_ids=["p1", "p2", "missing", "p1"])
        assert {k: v.id for k, v in batch.items()} == {"p1": row.id, "p2": allowed.id}
        assert screenings.get_screenings(s, org="org-b", post_ids=["p1", "p2"]) == {}
        items = reviews.reviews_for_screenings(s, screening_ids=[row.id, allowed.id])
        assert {k: v.id for k, v in items.items()} == {row.id: rid}
        assert [r.item.id for r in reviews.list_reviews(s, org="org-a")] == [rid]
        assert reviews.list_reviews(s, org="org-b") == []
        assert reviews.get_review(s, org="org-b", review_id=rid) is None
        assert audit.verify(s).ok


def test_same_post_id_twice_is_rejected_by_the_database(db: Database) -> None:
    from sqlalchemy.exc import IntegrityError

    record(db, "dup")
    with pytest.raises(IntegrityError):
        record(db, "dup")
    record(db, "dup", org="org-b")  # another organisation's namespace
    with db.session() as s:
        assert len(reviews.list_reviews(s, org="org-a")) == 1
        assert audit.verify(s).ok  # the failed insert left no audit entry behind


def _race(n: int, work: Callable[[int], bool]) -> list[bool]:
    barrier = threading.Barrier(n)
    results: list[bool] = [False] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return results


def test_claim_race_exactly_one_wins(db: Database) -> None:
    rid = record(db, "race")
    assert rid is not None

    def claim(i: int) -> bool:
        try:
            with db.session() as s:
                reviews.claim_review(
                    s, org="org-a", review_id=rid, key_id=100 + i, lease_seconds=600, actor=f"m{i}"
                )
            return True
        except reviews.ClaimConflict:
            return False

    results = _race(8, claim)
    assert sum(results) == 1
    winner = 100 + results.index(True)
    with db.session() as s:
        row = reviews.get_review(s, org="org-a", review_id=rid)
        assert row is not None and row.item.claimed_by == winner
        assert audit.verify(s).ok
        claims = [e for e in s.execute(select(audit.AuditEntry)).scalars() if e.action == "review.claim"]
        assert len(claims) == 1


def test_claim_next_race_hands_out_distinct_items(db: Database) -> None:
    for i in range(5):
        record(db, f"q{i}")
    got: list[str | None] = [None] * 8

    def claim_next(i: int) -> bool:
        with db.session() as s:
            item = reviews.claim_next(s, org="org-a", key_id=200 + i, lease_seconds=600, actor=f"m{i}")
            got[i] = item.id if item else None
        return item is not None

    results = _race(8, claim_next)
    ids = [g for g in got if g]
    assert sum(results) == 5 and len(set(ids)) == 5


def test_decide_exactly_once_under_concurrency(db: Database) -> None:
    rid = record(db, "decide")
    assert rid is not None

    def decide(i: int) -> bool:
        try:
            with db.session() as s:
                reviews.decide_review(
                    s,
                    org="org-a",
                    review_id=rid,
                    key_id=300 + i,
                    action="approve" if i % 2 else "reject",
                    labels={"toxicity": bool(i % 2)},
                    redacted_text=None,
                    note=None,
                    actor=f"m{i}",
                )
            return True
        except reviews.ClaimConflict:
            return False

    results = _race(8, decide)
    assert sum(results) == 1
    winner = results.index(True)
    with db.session() as s:
        decs = list(s.execute(select(Decision).where(Decision.review_id == rid)).scalars())
        assert len(decs) == 1 and decs[0].moderator_key_id == 300 + winner
        assert decs[0].labels == {"toxicity": bool(winner % 2)}
        assert audit.verify(s).ok


def test_lease_blocks_others_until_it_expires(db: Database) -> None:
    rid = record(db, "lease")
    assert rid is not None
    with db.session() as s:
        reviews.claim_review(s, org="org-a", review_id=rid, key_id=1, lease_seconds=600, actor="m1")
    with db.session() as s, pytest.raises(reviews.ClaimConflict):
        reviews.claim_review(s, org="org-a", review_id=rid, key_id=2, lease_seconds=600, actor="m2")
    with db.session() as s, pytest.raises(reviews.ClaimConflict):
        reviews.decide_review(
            s,
            org="org-a",
            review_id=rid,
            key_id=2,
            action="approve",
            labels={},
            redacted_text=None,
            note=None,
            actor="m2",
        )
    with db.session() as s, pytest.raises(reviews.ClaimConflict):
        reviews.claim_review(s, org="org-b", review_id=rid, key_id=3, lease_seconds=600, actor="other-org")
    with db.session() as s:
        s.execute(
            text("UPDATE review_items SET lease_expires_at = :t WHERE id = :id"),
            {"t": utcnow() - timedelta(seconds=5), "id": rid},
        )
    with db.session() as s:
        assert (
            reviews.claim_review(
                s, org="org-a", review_id=rid, key_id=2, lease_seconds=600, actor="m2"
            ).claimed_by
            == 2
        )


def test_purge_before_keeps_redacted_text_labels_and_audit(db: Database) -> None:
    vault = Vault(["a test secret"])
    old = record(
        db,
        "old",
        anonymous=True,
        author_id=None,
        author_enc=vault.encrypt("carer-1"),
        original_enc=vault.encrypt("Doris was called an idiot"),
    )
    pending = record(db, "pending", original_enc=vault.encrypt("still waiting"))
    record(db, "allowed", priority=None, decision="allow", original_enc=vault.encrypt("nice day"))
    assert old and pending
    with db.session() as s:
        reviews.decide_review(
            s,
            org="org-a",
            review_id=old,
            key_id=1,
            action="approve_redacted",
            labels={"toxicity": True},
            redacted_text="[RESIDENT] was called names",
            note=None,
            actor="m1",
        )
    with db.session() as s:
        purged = retention.purge_before(s, cutoff=utcnow() + timedelta(seconds=1), actor="test:purge")
    assert purged == {"org-a": 2}  # the decided one and the allowed one; never a pending item
    with db.session() as s:
        row = screenings.get_screening(s, org="org-a", post_id="old")
        assert row is not None
        assert row.original_enc is None and row.author_enc is None and row.purged_at is not None
        assert row.redacted_text == "[RESIDENT] was called an idiot"
        dec = s.execute(select(Decision).where(Decision.review_id == old)).scalar_one()
        assert dec.labels == {"toxicity": True} and dec.redacted_text == "[RESIDENT] was called names"
        still = screenings.get_screening(s, org="org-a", post_id="pending")
        assert still is not None and still.original_enc is not None
        assert screenings.get_screening(s, org="org-a", post_id="allowed").original_enc is None  # type: ignore[union-attr]
        assert audit.verify(s).ok
        actions = [e.action for e in s.execute(select(audit.AuditEntry)).scalars()]
        assert actions.count("retention.purge") == 1 and actions.count("review.decide") == 1
    with db.session() as s:  # idempotent
        assert retention.purge_before(s, cutoff=utcnow(), actor="test:purge") == {}


def test_purge_keeps_recent(db: Database) -> None:
    record(db, "recent", priority=None, decision="allow")
    with db.session() as s:
        assert retention.purge_before(s, cutoff=utcnow() - timedelta(days=1), actor="t") == {}
        assert screenings.get_screening(s, org="org-a", post_id="recent").original_enc == "enc"  # type: ignore[union-attr]


def test_record_screenings_stores_a_batch_with_one_chain_extension(db: Database) -> None:
    """The group commit's storage call: screenings, review items only for held posts, one audit entry each, in
    order, and a chain that still verifies."""
    batch = [
        screenings.NewScreening(
            f"g{i}",
            fields(decision="hold" if i % 2 else "allow"),
            "normal" if i % 2 else None,
            0.5,
            ["toxicity"],
            60,
        )
        for i in range(5)
    ]
    with db.session() as s:
        stored = screenings.record_screenings(s, org="org-a", screenings=batch, actor="test")
        assert [row.post_id for row, _ in stored] == [f"g{i}" for i in range(5)]
        assert [item is not None for _, item in stored] == [False, True, False, True, False]
    with db.session() as s:
        rows = screenings.get_screenings(s, org="org-a", post_ids=[f"g{i}" for i in range(5)])
        assert {k: v.id for k, v in rows.items()} == {row.post_id: row.id for row, _ in stored}
        items = reviews.reviews_for_screenings(s, screening_ids=[r.id for r in rows.values()])
        assert sorted(i.id for i in items.values()) == sorted(item.id for _, item in stored if item)
        entries = s.execute(select(AuditEntry).where(AuditEntry.action == "screen").order_by(AuditEntry.seq))
        assert [e.subject for e in entries.scalars()] == [f"post:g{i}" for i in range(5)]
        assert audit.verify(s).ok
        assert screenings.record_screenings(s, org="org-a", screenings=[], actor="test") == []


def test_constants_restated_for_typing_or_layering_agree_with_their_one_definition() -> None:
    """Where a value cannot be imported (storage may not import models; ``Literal`` needs literals), it is
    restated once and kept equal here."""
    from typing import get_args

    from models.policy import DECISIONS, PUBLISHABLE
    from service.schemas import DecisionName, Priority
    from storage.outcomes import PUBLISHED_AT_SCREENING
    from storage.reviews import PRIORITY_RANK

    assert PUBLISHED_AT_SCREENING == PUBLISHABLE
    assert get_args(DecisionName) == DECISIONS
    assert get_args(Priority) == tuple(PRIORITY_RANK)
    from service.routes.webhooks import EventType
    from storage.outbox import EVENT_TYPES

    assert get_args(EventType) == EVENT_TYPES
