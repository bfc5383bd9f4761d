"""pii_eval on a tiny fixture: metrics, leakage, staff kept, markdown, absent datasets skipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluation.pii_data import Example, Output, load_care_posts
from evaluation.pii_eval import evaluate_pii, render_markdown
from evaluation.pii_scoring import score_system
from models.taxonomy import CATEGORIES
from training.care_corpus import parse_markup

FIXTURE = [
    "Special mention [[Sam Taylor|PERSON|staff]] for sitting with [[Mrs Hughes|PERSON|resident]] in "
    "[[room 14|ROOM|resident]]",
    "[[Doris|PERSON|resident]] had a fall, her daughter [[Karen|PERSON|family]] rang on "
    "[[07700 900123|PHONE_NUMBER|family]]",
    "Room for improvement on the 07:30-19:30 shift",
]


@pytest.fixture()
def care_file(tmp_path: Path) -> Path:
    path = tmp_path / "posts.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for i, marked in enumerate(FIXTURE):
            text, spans = parse_markup(marked)
            ents = spans
            fh.write(
                json.dumps(
                    {
                        "id": f"t-{i}",
                        "text": text,
                        "labels": dict.fromkeys(CATEGORIES, 0),
                        "entities": ents,
                        "split": "test",
                        "tags": [],
                    }
                )
                + "\n"
            )
    return path


class _Perfect:
    """A fake system that redacts exactly the gold non-staff spans of the fixture."""

    name = "perfect"

    def __init__(self, examples: list[Example]) -> None:
        self.by_text = {e.text: e for e in examples}

    def run(self, text: str, staff_names: object) -> Output:
        gold = self.by_text[text].gold
        red = [g for g in gold if g.role != "staff"]
        out = text
        for g in sorted(red, key=lambda s: -s.start):
            out = out[: g.start] + "[X]" + out[g.end :]
        return Output(list(red), [g for g in gold if g.role == "staff"], out)

    def analyze_only(self, text: str) -> object:
        return None


def test_score_system_perfect(care_file: Path) -> None:
    examples, _ = load_care_posts(care_file)
    result = score_system(_Perfect(examples), examples)
    assert result["overall"]["precision"] == 1.0 and result["overall"]["recall"] == 1.0
    assert result["resident_family_surviving"] == 0.0
    assert result["staff_names_kept"] == 1.0
    assert result["per_role"]["family"]["recall"] == 1.0


def test_evaluate_on_fixture(care_file: Path, tmp_path: Path) -> None:
    from evaluation.pii_systems import OursSystem

    report = evaluate_pii(
        care_posts_path=care_file, datasets_dir=tmp_path / "none", systems=[OursSystem()], timing_posts=3
    )
    care = report["datasets"]["care_posts"]["carescreen"]
    assert care["overall"]["recall"] == 1.0
    assert care["resident_family_surviving"] == 0.0
    assert care["staff_names_kept"] == 1.0
    assert len(report["skipped"]) == 2  # synth + wnut absent
    assert report["timing_40_words"]["carescreen"]["median_ms"] > 0
    md = render_markdown(report)
    assert "care_posts" in md and "median ms" in md


def test_absent_care_posts(tmp_path: Path) -> None:
    examples, source = load_care_posts(tmp_path / "nope" / "posts.jsonl")
    assert examples == [] and source == "absent"
