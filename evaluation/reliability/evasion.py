"""Evasion evidence: obfuscated variants of posts with a positive label (zero-width spaces, homoglyphs, leetspeak,
spacing) and how often the pipeline still flags them as it flags the plain post."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

ZWSP = "\u200b"
_CYRILLIC = str.maketrans({"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "y": "у", "i": "і"})
_LEET = str.maketrans({"a": "4", "e": "3", "i": "1", "o": "0"})


def _words(text: str) -> list[tuple[int, int]]:
    """Spans of plain alphabetic words of 4+ letters (placeholders such as ``[RESIDENT]`` are left alone)."""
    return [(m.start(), m.end()) for m in re.finditer(r"(?<![\[\w])[A-Za-z]{4,}(?![\w\]])", text)]


def _per_word(text: str, fn: Callable[[str], str], pick: Callable[[int], bool] = lambda i: True) -> str:
    out, pos = [], 0
    for i, (s, e) in enumerate(_words(text)):
        out += [text[pos:s], fn(text[s:e]) if pick(i) else text[s:e]]
        pos = e
    out.append(text[pos:])
    return "".join(out)


def _zero_width(word: str) -> str:
    return word[: len(word) // 2] + ZWSP + word[len(word) // 2 :]


def _leet(word: str) -> str:
    # Keep the first letter a letter: "D0ris", "h4t3", as people write them.
    return word[0] + word[1:].translate(_LEET)


def _spaced_longest(text: str) -> str:
    spans = _words(text)
    if not spans:
        return text
    s, e = max(spans, key=lambda se: se[1] - se[0])
    return text[:s] + " ".join(text[s:e]) + text[e:]


VARIANTS: dict[str, Callable[[str], str]] = {
    "zero-width spaces": lambda t: _per_word(t, _zero_width),
    "Cyrillic homoglyphs": lambda t: _per_word(t, lambda w: w.translate(_CYRILLIC)),
    "leetspeak": lambda t: _per_word(t, _leet),
    "spaced-out word": _spaced_longest,
    "mixed": lambda t: _spaced_longest(
        _per_word(
            _per_word(
                _per_word(t, _zero_width, lambda i: i % 3 == 0),
                lambda w: w.translate(_CYRILLIC),
                lambda i: i % 3 == 1,
            ),
            _leet,
            lambda i: i % 3 == 2,
        )
    ),
}


def evasion_agreement(pipeline: Any, texts: Sequence[str], *, batch: int = 32) -> dict[str, Any]:
    """How often the pipeline's flags on an obfuscated variant equal its flags on the plain post (per variant
    kind). Also the same agreement for the classifier reading the variant *without* normalisation, which shows
    what the folding buys."""
    import numpy as np

    from models.normalize import normalize
    from models.pipeline import ScreenRequest
    from models.taxonomy import CATEGORIES

    def flags(batch_texts: list[str]) -> list[tuple[str, ...]]:
        out: list[tuple[str, ...]] = []
        for i in range(0, len(batch_texts), batch):
            res = pipeline.screen_many([ScreenRequest(text=t) for t in batch_texts[i : i + batch]])
            out += [tuple(r.flags) for r in res]
        return out

    def raw_flags(batch_texts: list[str]) -> list[tuple[str, ...]]:
        th = pipeline.classifier.thresholds
        out: list[tuple[str, ...]] = []
        for i in range(0, len(batch_texts), batch):
            probs = np.asarray(pipeline.classifier.predict_proba(list(batch_texts[i : i + batch])))
            out += [tuple(c for j, c in enumerate(CATEGORIES) if p[j] >= th[c]) for p in probs]
        return out

    texts = list(texts)
    plain = flags(texts)
    plain_raw = raw_flags(texts)
    per_kind: dict[str, dict[str, Any]] = {}
    agree_all = total_all = 0
    for kind, fn in VARIANTS.items():
        variants = [fn(t) for t in texts]
        got = flags(variants)
        got_raw = raw_flags(variants)
        same = sum(a == b for a, b in zip(plain, got, strict=True))
        flagged = [i for i, f in enumerate(plain) if f]
        per_kind[kind] = {
            "n": len(texts),
            "changed_text": sum(v != t for v, t in zip(variants, texts, strict=True)),
            # Folding undid the disguise exactly (so any flag change came from the PII stage seeing the variant).
            "folded_identical": sum(
                normalize(v).text == normalize(t).text for v, t in zip(variants, texts, strict=True)
            ),
            "agreement": same / len(texts) if texts else float("nan"),
            "agreement_when_plain_flagged": (
                sum(plain[i] == got[i] for i in flagged) / len(flagged) if flagged else float("nan")
            ),
            "agreement_without_normalisation": (
                sum(a == b for a, b in zip(plain_raw, got_raw, strict=True)) / len(texts)
                if texts
                else float("nan")
            ),
            "example": variants[0][:120] if variants else "",
        }
        agree_all += same
        total_all += len(texts)
    return {
        "posts": len(texts),
        "plain_flagged": sum(bool(f) for f in plain),
        "agreement": agree_all / total_all if total_all else float("nan"),
        "by_variant": per_kind,
    }


def positive_test_texts(limit: int | None = None) -> list[str]:
    """Test-split care posts with at least one positive label (as serving sees them: identifiers redacted)."""
    from training.data import care_examples

    texts = [ex.text for ex in care_examples("test") if any(v == 1 for v in ex.labels.values())]
    return texts[:limit] if limit else texts
