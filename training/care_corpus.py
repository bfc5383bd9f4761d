"""The project's own care-domain corpus: build (markup -> spans), frozen splits, loading and stats.

``datasets/care_posts/raw/*.jsonl`` is what authors write (identifiers marked inline); ``build`` turns it into
``datasets/care_posts/posts.jsonl`` with character spans and a split for each post. Splits are assigned once
and then frozen: a post keeps its split forever, and the test split's hash is pinned by a test.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.pii.findings import Finding
from models.pipeline import apply_redactions
from models.taxonomy import CARE_ACT_TYPES, CATEGORIES, PII_ROLES
from training.examples import LabelledText

CORPUS_DIR = Path(__file__).resolve().parent.parent / "datasets" / "care_posts"
RAW_DIR = CORPUS_DIR / "raw"
POSTS_FILE = CORPUS_DIR / "posts.jsonl"
TEST_HASH_FILE = CORPUS_DIR / "test_split.sha256"
ENTITY_TYPES = (
    "PERSON", "NHS_NUMBER", "UK_NI_NUMBER", "PHONE_NUMBER", "EMAIL_ADDRESS", "UK_POSTCODE",
    "STREET_ADDRESS", "DATE_OF_BIRTH", "ROOM", "ACCESS_CODE",
)  # fmt: skip
SPLIT_FRACTIONS = {"test": 0.22, "validation": 0.15}
_MARKUP = re.compile(r"\[\[([^|\]]+)\|([A-Z_]+)\|([a-z]+)\]\]")


@dataclass(frozen=True)
class CarePost:
    id: str
    text: str
    labels: dict[str, int]
    entities: tuple[dict[str, Any], ...]
    split: str
    tags: tuple[str, ...] = ()
    care_act_type: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def redacted_text(self) -> str:
        """The text with gold identifiers replaced exactly as serving replaces them (except kept staff)."""
        findings = [
            Finding(type=e["type"], start=e["start"], end=e["end"], score=1.0, role=e["role"])
            for e in self.entities
            if not (e["type"] == "PERSON" and e["role"] == "staff")
        ]
        return apply_redactions(self.text, findings)

    def to_example(self, *, redacted: bool = True) -> LabelledText:
        return LabelledText(
            id=f"care:{self.id}",
            text=self.redacted_text if redacted else self.text,
            labels=self.labels,
            source="care_posts",
            split=self.split,
            meta={"tags": self.tags},
        )


def parse_markup(marked: str) -> tuple[str, list[dict[str, Any]]]:
    """Strip ``[[surface|TYPE|role]]`` markup, returning plain text and character spans."""
    out: list[str] = []
    spans: list[dict[str, Any]] = []
    pos = 0
    length = 0
    for m in _MARKUP.finditer(marked):
        before = marked[pos : m.start()]
        out.append(before)
        length += len(before)
        surface, etype, role = m.group(1), m.group(2), m.group(3)
        if etype not in ENTITY_TYPES:
            raise ValueError(f"unknown entity type {etype!r} in {marked[:60]!r}")
        if role not in PII_ROLES:
            raise ValueError(f"unknown role {role!r} in {marked[:60]!r}")
        spans.append(
            {"start": length, "end": length + len(surface), "type": etype, "role": role, "text": surface}
        )
        out.append(surface)
        length += len(surface)
        pos = m.end()
    out.append(marked[pos:])
    text = "".join(out)
    if "[[" in text or "]]" in text:
        raise ValueError(f"malformed markup in {marked[:80]!r}")
    return text, spans


def _shingles(text: str) -> set[str]:
    words = re.findall(r"[a-z]+", text.lower())
    return {" ".join(words[i : i + 3]) for i in range(max(1, len(words) - 2))}


def near_duplicate_groups(texts: list[str], threshold: float = 0.6) -> list[int]:
    """Union-find over word-trigram Jaccard similarity, so near-duplicates never straddle splits."""
    parent = list(range(len(texts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    sh = [_shingles(t) for t in texts]
    buckets: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(sh):
        for g in s:
            buckets[g].append(i)
    for i, s in enumerate(sh):
        candidates = Counter(j for g in s for j in buckets[g] if j > i)
        for j, shared in candidates.items():
            if shared / max(1, len(s | sh[j])) >= threshold:
                parent[find(j)] = find(i)
    return [find(i) for i in range(len(texts))]


def _stratum(labels: dict[str, int], tags: Iterable[str]) -> str:
    # Stratify on the rarest label a post carries, so small categories are spread evenly over splits.
    for c in (
        "hate",
        "threat",
        "sexual",
        "self_harm",
        "safeguarding",
        "bullying",
        "confidentiality",
        "toxicity",
    ):
        if labels.get(c):
            return c
    return "hard_negative" if "hard_negative" in tags else "clean"


def _hash(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


def build(raw_dir: Path = RAW_DIR, out_file: Path = POSTS_FILE) -> list[CarePost]:
    """Parse raw files; keep the split of every post already in ``out_file`` (frozen), assign new ones."""
    frozen: dict[str, str] = {}
    if out_file.exists():
        frozen = {p.id: p.split for p in load_posts(out_file)}
    records: list[dict[str, Any]] = []
    seen: set[str] = set()
    for path in sorted(raw_dir.glob("*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if row["id"] in seen:
                raise ValueError(f"{path.name}:{n}: duplicate id {row['id']}")
            seen.add(row["id"])
            text, spans = parse_markup(row["text"])
            unknown = set(row.get("labels", [])) - set(CATEGORIES)
            if unknown:
                raise ValueError(f"{path.name}:{n}: unknown labels {unknown}")
            cat = row.get("care_act_type")
            if cat is not None and cat not in CARE_ACT_TYPES:
                raise ValueError(f"{path.name}:{n}: unknown care_act_type {cat}")
            records.append(
                {
                    "id": row["id"],
                    "text": text,
                    "labels": {c: int(c in row.get("labels", [])) for c in CATEGORIES},
                    "entities": spans,
                    "tags": row.get("tags", []),
                    "care_act_type": cat,
                    "setting": row.get("setting"),
                    "voice": row.get("voice"),
                    "origin": row.get("origin", "handwritten"),
                    "source_file": path.name,
                }
            )
    groups = near_duplicate_groups([r["text"] for r in records])
    # A group inherits a frozen split if any member has one; else the group is assigned by stratum + hash.
    group_split: dict[int, str] = {}
    for r, g in zip(records, groups, strict=True):
        if r["id"] in frozen and g not in group_split:
            group_split[g] = frozen[r["id"]]
    by_stratum: dict[str, list[int]] = defaultdict(list)
    for r, g in zip(records, groups, strict=True):
        if g not in group_split:
            by_stratum[_stratum(r["labels"], r["tags"])].append(g)
    for members in by_stratum.values():
        unique = sorted(set(members), key=lambda g: _hash(records[groups.index(g)]["id"]))
        n = len(unique)
        n_test = round(n * SPLIT_FRACTIONS["test"])
        n_val = round(n * SPLIT_FRACTIONS["validation"])
        for k, g in enumerate(unique):
            group_split[g] = "test" if k < n_test else "validation" if k < n_test + n_val else "train"
    posts: list[CarePost] = []
    with out_file.open("w", encoding="utf-8") as fh:
        for r, g in zip(records, groups, strict=True):
            r["split"] = group_split[g]
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
            posts.append(_post_from_row(r))
    return posts


def _post_from_row(r: dict[str, Any]) -> CarePost:
    meta = {k: r.get(k) for k in ("setting", "voice", "origin", "source_file")}
    return CarePost(
        id=r["id"],
        text=r["text"],
        labels={c: int(r["labels"][c]) for c in CATEGORIES},
        entities=tuple(r["entities"]),
        split=r["split"],
        tags=tuple(r.get("tags", [])),
        care_act_type=r.get("care_act_type"),
        meta=meta,
    )


def load_posts(path: Path = POSTS_FILE, split: str | None = None) -> list[CarePost]:
    posts = [
        _post_from_row(json.loads(line))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return [p for p in posts if split is None or p.split == split]


def frozen_test_hash(path: Path = POSTS_FILE) -> str:
    """Hash of the frozen test split (ids + texts + labels): a test fails if anyone edits it."""
    rows = sorted(
        (p.id, p.text, tuple(p.labels[c] for c in CATEGORIES)) for p in load_posts(path, split="test")
    )
    return _hash(json.dumps(rows, ensure_ascii=False))


def stats(posts: list[CarePost]) -> dict[str, Any]:
    """Counts per label and split, plus the floors the data card promises."""
    splits = ("train", "validation", "test")
    table: dict[str, dict[str, int]] = {}
    for c in CATEGORIES:
        table[c] = {s: sum(1 for p in posts if p.split == s and p.labels[c]) for s in splits}
        table[c]["total"] = sum(table[c][s] for s in splits)
    clean = [p for p in posts if not any(p.labels.values())]
    hard = [p for p in clean if "hard_negative" in p.tags]

    def person_rate(group: list[CarePost]) -> float:
        return sum(any(e["type"] == "PERSON" for e in p.entities) for p in group) / max(1, len(group))

    # A shortcut check (issue 16): if named people appear mostly in harmful posts, a name becomes evidence.
    person_rates = {c: person_rate([p for p in posts if p.labels[c]]) for c in CATEGORIES}
    person_rates["clean"] = person_rate(clean)
    person_rates["recognition"] = person_rate([p for p in posts if {"special_mention", "ooo"} & set(p.tags)])
    return {
        "posts": {s: sum(1 for p in posts if p.split == s) for s in splits} | {"total": len(posts)},
        "labels": table,
        "clean": len(clean),
        "hard_negatives": len(hard),
        "with_spans": sum(1 for p in posts if p.entities),
        "spans_by_type": dict(Counter(e["type"] for p in posts for e in p.entities)),
        "spans_by_role": dict(Counter(e["role"] for p in posts for e in p.entities)),
        "care_act_types": dict(Counter(p.care_act_type for p in posts if p.care_act_type)),
        "templated": sum(1 for p in posts if str(p.meta.get("origin", "")).startswith("template")),
        "person_rate": person_rates,
    }


def format_stats(s: dict[str, Any]) -> str:
    lines = ["category          train  valid   test  total"]
    for c, row in s["labels"].items():
        lines.append(f"{c:<16} {row['train']:>6} {row['validation']:>6} {row['test']:>6} {row['total']:>6}")
    p = s["posts"]
    lines.append(f"{'all posts':<16} {p['train']:>6} {p['validation']:>6} {p['test']:>6} {p['total']:>6}")
    lines.append(
        f"clean posts: {s['clean']}  hard negatives: {s['hard_negatives']}  with PII spans: {s['with_spans']}"
    )
    lines.append(f"templated posts: {s['templated']}")
    lines.append(f"spans by type: {s['spans_by_type']}")
    lines.append(f"spans by role: {s['spans_by_role']}")
    lines.append(f"Care Act types: {s['care_act_types']}")
    rates = ", ".join(f"{k} {v:.0%}" for k, v in s.get("person_rate", {}).items())
    lines.append(f"posts naming a person, by label: {rates}")
    return "\n".join(lines)
