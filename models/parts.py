"""Every part of a post is read: sentence parts, scored together, combined so one harmful sentence is enough.

The classifier reads at most ``max_length`` tokens and mean-pools them into one score, so a disclosure after
about 90 words was never read, and a pleasant opening diluted an insult before it ("Great shift, thanks all.
Also: you useless idiots"). A post is therefore scored as its whole text *and* as its sentences (a long run-on
sentence is cut into overlapping word windows); each category's score is the maximum over the parts. All parts
of all posts in a micro-batch go through one ``predict`` call, so the cost grows with the length of the posts,
not per request.

Serving (``models.pipeline``), threshold choice (``training.run``) and evaluation all call ``score_posts``: the
thresholds are chosen on the same aggregation the service applies.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from models.taxonomy import CATEGORIES

#: A sentence ends at . ! ? or … (with any closing quotes or brackets) followed by space, or at a line break.
_SENTENCE_END: Final = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+|\s*\n\s*")
_WORD: Final = re.compile(r"\S+")
#: A fragment shorter than this joins the next sentence ("Also:", "Hi all.") so it is not scored alone.
MIN_WORDS: Final = 4
#: A sentence longer than this (a run-on without full stops) is cut into overlapping word windows.
WINDOW_WORDS: Final = 40
STRIDE_WORDS: Final = 30
#: At most this many parts per post besides the whole text; beyond it neighbouring parts are merged, so even a
#: 10,000-character post costs a bounded number of forward passes.
MAX_PARTS: Final = 48
#: How far below the whole post's score a sentence may be and still be shown as the evidence for a flag.
EVIDENCE_SLACK: Final = 0.05


@dataclass(frozen=True)
class PostScores:
    """Per-post scores (max over parts) and, per category, the span of the part that gave the score."""

    probs: np.ndarray  # (n_posts, len(CATEGORIES))
    evidence: list[dict[str, tuple[int, int]]]
    parts: int  # how many texts were scored in all (whole posts + parts)
    #: The whole text's own scores (the policy blocks only on these: a quoted slur in one sentence of a post
    #: that condemns it is held for a person, never blocked unread).
    whole: np.ndarray | None = None


def _words(text: str, start: int, end: int) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _WORD.finditer(text, start, end)]


def part_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the parts of ``text`` (sentences, short ones merged, long ones windowed).

    A text of one part returns that one span; the caller scores the whole text in any case.
    """
    sentences: list[tuple[int, int]] = []
    pos = 0
    for m in _SENTENCE_END.finditer(text):
        if m.start() > pos:
            sentences.append((pos, m.start()))
        pos = m.end()
    if pos < len(text):
        sentences.append((pos, len(text)))
    # Merge fragments of fewer than MIN_WORDS words into the sentence that follows (or the one before, at the end).
    merged: list[list[int]] = []
    pending: int | None = None
    last_end = 0
    for s, e in sentences:
        n = len(_words(text, s, e))
        if n == 0:
            continue
        start = pending if pending is not None else s
        if n < MIN_WORDS:
            pending = start
            last_end = e
            continue
        pending = None
        merged.append([start, e])
    if pending is not None:
        if merged:
            merged[-1][1] = last_end
        else:
            merged.append([pending, last_end])
    spans: list[tuple[int, int]] = []
    for s, e in merged:
        words = _words(text, s, e)
        if len(words) <= WINDOW_WORDS:
            spans.append((s, e))
            continue
        for k in range(0, len(words), STRIDE_WORDS):
            window = words[k : k + WINDOW_WORDS]
            spans.append((window[0][0], window[-1][1]))
            if k + WINDOW_WORDS >= len(words):
                break
    while len(spans) > MAX_PARTS:
        spans = [(spans[k][0], spans[min(k + 1, len(spans) - 1)][1]) for k in range(0, len(spans), 2)]
    return spans


def score_posts(
    predict: Callable[[Sequence[str]], np.ndarray], texts: Sequence[str], *, parts: bool = True
) -> PostScores:
    """Score every post as its whole text plus its parts, in one ``predict`` call; max over parts.

    ``parts=False`` scores the whole text only (for ablations: what reading every part buys).
    """
    inputs: list[str] = []
    owners: list[tuple[int, tuple[int, int]]] = []
    for i, text in enumerate(texts):
        inputs.append(text)
        owners.append((i, (0, len(text))))
        spans = part_spans(text) if parts else []
        if len(spans) > 1:
            for s, e in spans:
                inputs.append(text[s:e])
                owners.append((i, (s, e)))
    n_cat = len(CATEGORIES)
    probs = np.zeros((len(texts), n_cat), dtype=np.float64)
    if not inputs:
        return PostScores(probs, [], 0, probs.copy())
    part_probs = np.asarray(predict(inputs), dtype=np.float64)
    if part_probs.shape != (len(inputs), n_cat):
        raise ValueError(f"classifier returned shape {part_probs.shape} for {len(inputs)} texts")
    whole = np.full(len(texts), -1, dtype=np.int64)
    best_part = np.full((len(texts), n_cat), -1, dtype=np.int64)
    for k, (i, _) in enumerate(owners):
        if whole[i] == -1:
            whole[i] = k  # the first entry of each post is its whole text
            continue
        current = best_part[i]
        better = (current == -1) | (part_probs[k] > part_probs[np.maximum(current, 0), np.arange(n_cat)])
        best_part[i, better] = k
    evidence: list[dict[str, tuple[int, int]]] = []
    for i in range(len(texts)):
        chosen: dict[str, tuple[int, int]] = {}
        for j, c in enumerate(CATEGORIES):
            w, p = int(whole[i]), int(best_part[i, j])
            # A sentence that scores about as high as the whole post (within EVIDENCE_SLACK) is the more precise
            # evidence: "the night carer slapped..." at 0.998 beside the whole post's 0.999.
            k = p if p >= 0 and part_probs[p, j] >= part_probs[w, j] - EVIDENCE_SLACK else w
            probs[i, j] = part_probs[k, j] if p < 0 else max(part_probs[w, j], part_probs[p, j])
            chosen[c] = owners[k][1]
        evidence.append(chosen)
    return PostScores(probs, evidence, len(inputs), part_probs[whole])
