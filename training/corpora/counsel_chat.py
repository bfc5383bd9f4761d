"""CounselChat: help-seeking questions posted to counselchat.com, with the poster's topic(s).

Text: ``questionTitle`` + blank line + ``questionText`` (the help-seeker's own words; therapist answers
are not used). One example per ``questionID`` (the CSV repeats the question once per answer; a question
can carry two topics, which are unioned).

Mapping (topics are the poster's choice, not risk annotations, so this is deliberately cautious):
- topic ``self-harm`` -> self_harm = 1.
- self_harm = 0 only when every topic is in ``LOW_RISK_TOPICS`` (relationships, parenting, intimacy, ...)
  AND no risk phrase (suicide, cutting, "want to die", ...) appears. Depression, anxiety, trauma, grief,
  eating disorders, substance use, domestic violence, self-esteem, stress, behavioural change etc. are
  masked (as is lgbtq, a group with elevated self-harm rates): those posts may describe ideation without
  the poster tagging it.
- Everything else masked. Domestic-violence questions are safeguarding-adjacent, but they are the poster's
  own situation outside a care setting, so safeguarding stays masked.
Splits: the file's own ``split`` column (consistent per question; val -> validation).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from training.corpora._common import hash_split, make_example, normalise_split, read_csv_dicts
from training.examples import LabelledText

LOW_RISK_TOPICS: frozenset[str] = frozenset(
    {
        "relationships",
        "intimacy",
        "parenting",
        "family-conflict",
        "marriage",
        "relationship-dissolution",
        "workplace-relationships",
        "social-relationships",
        "professional-ethics",
        "legal-regulatory",
        "counseling-fundamentals",
        "spirituality",
        "sleep-improvement",
        "human-sexuality",
    }
)

RISK_PHRASES = re.compile(
    r"suicid\w*|kill(ing)? (my|him|her)sel(f|ves)|self[- ]?harm\w*|\bcut(ting)? (my|on my)|hurt(ing)? myself|"
    r"end (my life|it all)|want(ed)? to die|better off dead|don'?t want to (live|be here)|overdos\w*",
    re.IGNORECASE,
)


def counsel_chat_labels(topics: set[str], text: str) -> dict[str, int]:
    """self_harm label from the poster's topics, or ``{}`` (masked)."""
    if "self-harm" in topics:
        return {"self_harm": 1}
    if topics and topics <= LOW_RISK_TOPICS and not RISK_PHRASES.search(text):
        return {"self_harm": 0}
    return {}


@dataclass
class _Question:
    text: str
    split: str
    topics: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class CounselChatLoader:
    """``20200325_counsel_chat.csv``: one row per therapist answer; grouped back into questions."""

    name: str = "counsel_chat"
    folder: str = "counsel_chat"
    mapping: str = "topic self-harm->self_harm=1; low-risk topics w/o risk phrases->self_harm=0; else masked"

    def load(self, root: Path, split: str | None = None) -> Iterator[LabelledText]:
        path = root / self.folder / "20200325_counsel_chat.csv"
        if not path.is_file():
            return
        questions: dict[str, _Question] = {}
        for row_no, row in enumerate(read_csv_dicts(path)):
            qid = row.get("questionID") or f"row{row_no}"
            title, body = row.get("questionTitle", ""), row.get("questionText", "")
            text = f"{title}\n\n{body}".strip() if title and body else (body or title)
            if qid not in questions:
                # No split column in other exports: fall back to a stable hash of the question id.
                row_split = normalise_split(row.get("split", "")) or hash_split(qid, self.name)
                questions[qid] = _Question(text=text, split=row_split)
            elif not questions[qid].text:
                questions[qid].text = text
            topic = row.get("topic", "").strip().lower()
            if topic:
                questions[qid].topics.add(topic)
        for qid, q in questions.items():
            if split is not None and q.split != split:
                continue
            labels = counsel_chat_labels(q.topics, q.text)
            example = make_example(self.name, qid, q.text, labels, q.split, {"topics": sorted(q.topics)})
            if example is not None:
                yield example
