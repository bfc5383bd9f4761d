"""Every part of a post is read (issue 23): sentence parts, windows for run-ons, max over parts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import pytest

from models.parts import MAX_PARTS, WINDOW_WORDS, part_spans, score_posts
from models.pipeline import ScreeningPipeline, ScreenRequest
from models.policy import default_policy
from models.taxonomy import CATEGORIES

GARDEN = (
    "What a lovely garden party we had this afternoon. The sun came out just in time and the families brought "
    "cakes. Everyone sang along to the old songs and the singer stayed for a cup of tea afterwards. The new "
    "planters the volunteers built are full of sweet peas now and the residents were proud to show them off. "
)
DISCLOSURE = "The night carer slapped Mrs Brown across the face when she wouldn't take her tablets."


class DilutingClassifier:
    """Like the real model's mean pooling: a cue counts only while it is a large share of the text it reads,
    and nothing past the first 60 words is read at all."""

    version = "test-diluting/1"
    thresholds = dict.fromkeys(CATEGORIES, 0.5)
    CUES: ClassVar[dict[str, str]] = {"safeguarding": "slapped", "toxicity": "idiots"}

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        out = np.full((len(texts), len(CATEGORIES)), 0.01)
        for i, t in enumerate(texts):
            words = t.lower().split()[:60]
            for c, cue in self.CUES.items():
                if any(cue in w for w in words) and len(words) <= 25:
                    out[i, CATEGORIES.index(c)] = 0.95
        return out


def test_sentences_are_parts_and_fragments_join_the_next() -> None:
    text = "Great shift today team, thanks all. Also: you useless idiots, I hate every one of you"
    assert [text[s:e] for s, e in part_spans(text)] == [
        "Great shift today team, thanks all.",
        "Also: you useless idiots, I hate every one of you",
    ]


def test_a_run_on_is_windowed_and_every_word_is_covered() -> None:
    words = [f"w{k}" for k in range(200)]
    text = " ".join(words)
    spans = part_spans(text)
    assert len(spans) > 1
    covered = {w for s, e in spans for w in text[s:e].split()}
    assert covered == set(words)
    assert all(len(text[s:e].split()) <= WINDOW_WORDS for s, e in spans)


def test_parts_are_bounded_whatever_the_length() -> None:
    text = "Short one here now. " * 600
    assert 1 < len(part_spans(text)) <= MAX_PARTS


@pytest.mark.parametrize("order", ["late", "early"])
def test_a_disclosure_in_a_long_post_decides_like_the_sentence_alone(order: str, redactor) -> None:  # type: ignore[no-untyped-def]
    pipeline = ScreeningPipeline(classifier=DilutingClassifier(), analyzer=redactor, policy=default_policy())
    text = GARDEN * 2 + DISCLOSURE if order == "late" else DISCLOSURE + " " + GARDEN * 2
    alone, long = pipeline.screen_many([ScreenRequest(text=DISCLOSURE), ScreenRequest(text=text)])
    assert alone.decision == long.decision == "escalate"
    # The whole text alone is too diluted for this classifier: only the parts catch it.
    whole_only = ScreeningPipeline(
        classifier=DilutingClassifier(), analyzer=redactor, policy=default_policy(), read_parts=False
    )
    assert whole_only.screen(ScreenRequest(text=text)).decision != "escalate"
    # The console can show which sentence raised the flag (a span of the redacted text).
    s, e = long.evidence["safeguarding"]
    assert "slapped" in long.redacted_text[s:e]


def test_padding_does_not_hide_an_insult(redactor) -> None:  # type: ignore[no-untyped-def]
    pipeline = ScreeningPipeline(classifier=DilutingClassifier(), analyzer=redactor, policy=default_policy())
    padded = GARDEN + "Also: you useless idiots, I hate every one of you"
    assert pipeline.screen(ScreenRequest(text=padded)).decision == "hold"


def test_score_posts_takes_the_maximum_over_parts_in_one_call() -> None:
    calls: list[int] = []

    def predict(texts: Sequence[str]) -> np.ndarray:
        calls.append(len(texts))
        out = np.zeros((len(texts), len(CATEGORIES)))
        for i, t in enumerate(texts):
            out[i, 0] = 0.9 if t.startswith("Bad") else 0.1
            out[i, 1] = 0.3
        return out

    scored = score_posts(predict, ["Fine words here today. Bad things happened in the night.", "One post."])
    assert calls == [4]  # two whole posts + two parts of the first, in one call
    assert scored.probs[0, 0] == pytest.approx(0.9) and scored.probs[1, 0] == pytest.approx(0.1)
    assert scored.evidence[0]["safeguarding"] == (23, 56)  # "Bad things happened in the night."
    assert (
        score_posts(predict, ["Fine words here today. Bad things happened."], parts=False).probs[0, 0] == 0.1
    )
