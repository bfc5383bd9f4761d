"""Training-set augmentations that remove shortcuts the corpus teaches (issue 16) and dilution (issue 23).

- **Padding**: a harmful post joined to a pleasant one (in either order) keeps its labels; two clean posts joined
  stay clean. The model then learns that a pleasant opening does not cancel an insult or a disclosure, and that
  length itself is not a risk.
- **Identity counterfactuals**: an identity term (Equality Act characteristics: race and nationality, religion,
  sexual orientation, gender identity, disability, age, sex) is swapped for another; the label stays the same.
  A neutral sentence about a Muslim or gay colleague is then as clean as one about a Catholic or straight one,
  and hate stays hate whoever it targets.

Both are built from the training split only (validation and test are never augmented).
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import Final

from models.parts import part_spans
from training.examples import LabelledText

#: Adjectives of protected characteristics, interchangeable in "a ___ colleague", "our ___ residents".
IDENTITY_TERMS: Final[tuple[str, ...]] = (
    "Muslim", "Christian", "Jewish", "Sikh", "Hindu", "Catholic", "Buddhist",
    "gay", "lesbian", "bisexual", "straight", "trans", "transgender", "non-binary",
    "Polish", "Romanian", "Nigerian", "Filipino", "Indian", "Pakistani", "Zimbabwean", "Ghanaian", "Jamaican",
    "Black", "Asian", "white", "Chinese", "Irish", "Scottish", "Welsh", "English", "Bangladeshi", "Somali",
    "Kenyan", "Bulgarian", "Portuguese", "Lithuanian", "overseas", "foreign",
    "disabled", "deaf", "blind", "autistic", "older", "younger", "pregnant",
)  # fmt: skip
_TERM_RE: Final = re.compile(r"\b(" + "|".join(re.escape(t) for t in IDENTITY_TERMS) + r")\b", re.IGNORECASE)


def _match_case(template: str, word: str) -> str:
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word if word[:1].isupper() else word.lower()


def identity_counterfactuals(
    examples: Sequence[LabelledText], *, copies: int, seed: int
) -> list[LabelledText]:
    """For each example naming an identity term, ``copies`` versions with every such term swapped (same labels)."""
    rng = random.Random(seed)
    out: list[LabelledText] = []
    for ex in examples:
        found = {m.group(1).lower() for m in _TERM_RE.finditer(ex.text)}
        if not found:
            continue
        for k in range(copies):
            swap = {t: rng.choice([u for u in IDENTITY_TERMS if u.lower() != t]) for t in found}
            text = _TERM_RE.sub(
                lambda m, swap=swap: _match_case(m.group(1), swap[m.group(1).lower()]),  # type: ignore[misc]
                ex.text,
            )
            out.append(
                LabelledText(
                    id=f"{ex.id}#id{k}",
                    text=text,
                    labels=dict(ex.labels),
                    source=ex.source,
                    split=ex.split,
                    meta={**ex.meta, "augmented": "identity"},
                )
            )
    return out


def clean_parts(examples: Sequence[LabelledText], *, n: int, seed: int) -> list[LabelledText]:
    """Up to ``n`` sentences of clean posts, each a clean example of its own.

    Serving scores every sentence of a post and takes the maximum (``models.parts``), so a fragment of a clean
    post must score as clean on its own; the whole-post training set never showed the model such fragments.
    Sentences of *labelled* posts are not used: which sentence carries the label is unknown.
    """
    rng = random.Random(seed)
    out: list[LabelledText] = []
    for ex in examples:
        if any(ex.labels.values()):
            continue
        spans = part_spans(ex.text)
        if len(spans) < 2:
            continue
        for k, (s, e) in enumerate(spans):
            out.append(
                LabelledText(
                    id=f"{ex.id}#part{k}",
                    text=ex.text[s:e],
                    labels=dict(ex.labels),
                    source=ex.source,
                    split=ex.split,
                    meta={"augmented": "clean_part"},
                )
            )
    rng.shuffle(out)
    return out[:n]


def padded_examples(examples: Sequence[LabelledText], *, n: int, seed: int) -> list[LabelledText]:
    """``n`` joined posts: two thirds a labelled post beside a clean one, one third two clean posts."""
    rng = random.Random(seed)
    clean = [e for e in examples if not any(e.labels.values())]
    harmful = [e for e in examples if any(e.labels.values())]
    if not clean or not harmful:
        return []
    out: list[LabelledText] = []
    for k in range(n):
        pad = rng.choice(clean)
        other = rng.choice(harmful) if k % 3 else rng.choice(clean)
        first, second = (pad, other) if rng.random() < 0.6 else (other, pad)
        sep = rng.choice([" ", "\n", " Also, ", ". ", "\n\n"])
        labels = {c: max(first.labels.get(c, 0), second.labels.get(c, 0)) for c in other.labels}
        out.append(
            LabelledText(
                id=f"pad:{first.id}+{second.id}",
                text=f"{first.text.rstrip()}{sep}{second.text.lstrip()}",
                labels=labels,
                source=other.source,
                split=other.split,
                meta={"augmented": "padding"},
            )
        )
    return out
