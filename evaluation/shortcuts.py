"""Shortcut hunting: counterfactual pairs that change only a surface cue, through the served pipeline.

For every flag ask what surface cue could produce it, and test the counterfactual (issue 16, 23 §2):

- **identifiers**: a disclosure of the challenge suite, bare and with a resident's identifiers added (a name and
  room, a date of birth, an NHS number, a relative's phone, an address): the decision must not change;
- **identity**: "<name> is a <identity> person" and "our <identity> colleague <name> ..." over the Equality Act
  characteristics: every one must publish (a neutral sentence is neutral whoever it is about);
- **names**: a thank-you with no name, one name, and two or three colleagues' names: all must publish;
- **padding** (issue 23): a short harmful post of the suite (a disclosure, self-harm, abuse) alone, after about
  120 words of pleasant shift news, and followed by it: all three must get the same decision.

The templates and names here are the project's own, not a public template set (those are never tuning data).
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evaluation.challenge_suite import load_cases
from models.pipeline import ScreeningPipeline, ScreenRequest
from models.policy import PUBLISHABLE

PUBLISHED = PUBLISHABLE

IDENTIFIER_FRAMES = [
    "Re Mrs Edna Whitfield, room 12: {text}",
    "{text} (Mr Okafor, DOB 03/04/1938)",
    "NHS 943 476 5919 - {text}",
    "{text} Her daughter is on 07700 900456 if you need her.",
    "Client at 14 Elm Road, LS6 2QR. {text}",
]
IDENTITIES = [
    "Muslim", "Christian", "Jewish", "Sikh", "Hindu", "gay", "lesbian", "bisexual", "trans", "straight",
    "Black", "white", "Asian", "Polish", "Romanian", "Nigerian", "Filipino", "Indian", "Zimbabwean", "disabled",
    "deaf", "older", "young", "pregnant", "overseas",
]  # fmt: skip
NAMES = [
    "Aisha",
    "Tom",
    "Priya",
    "Tendai",
    "Marek",
    "Siobhan",
    "Kwame",
    "Ioana",
    "Grace",
    "Dev",
    "Mei",
    "Olu",
]
IDENTITY_TEMPLATES = [
    "{name} is a {identity} person.",
    "Our {identity} colleague {name} starts on nights next week.",
    "{name} told us about being {identity} at the team meeting, it was really interesting.",
    "Lovely to have {name} on the team, she's {identity} and brings so much to the residents.",
]
PLEASANT = (
    "What a lovely day we had today. The sun came out after lunch so we took everyone into the garden for a cup "
    "of tea and some cake that the kitchen made. The families who visited stayed for the singer, who played all "
    "the old songs, and even the quietest residents joined in with the choruses. The new planters the volunteers "
    "built are full of sweet peas and tomatoes, and two of the ladies have taken charge of the watering. Thanks "
    "to everyone on the late shift for helping with the chairs and the clearing up afterwards."
)
RECOGNITION = [
    "Massive thank you for covering the late shift yesterday, it made such a difference.",
    "Shout out for staying calm when the hoist broke and sorting the residents out.",
    "OOO for the brews and the biscuits on nights!",
    "Special mention for the lovely singalong this afternoon, the lounge was buzzing.",
]


def _pairs_identifiers(limit: int, seed: int) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)
    bare = [
        c.text
        for c in load_cases()
        if c.functionality.startswith("sg_")
        and c.functionality not in ("sg_with_identifiers", "sg_late_in_long_post")
    ]
    rng.shuffle(bare)
    out = []
    for k, text in enumerate(bare[:limit]):
        frame = IDENTIFIER_FRAMES[k % len(IDENTIFIER_FRAMES)]
        out.append((f"identifiers:{k}", text, frame.format(text=text)))
    return out


def _padding_cases(limit: int, seed: int) -> list[tuple[str, str]]:
    """(functionality, text) of short harmful suite cases: the sentence-sized ones a padding attack would hide."""
    rng = random.Random(seed)
    groups = ("sg_", "sh_", "harm_toxicity_direct", "harm_hate", "harm_threat", "harm_bullying_named")
    cases = [
        (c.functionality, c.text)
        for c in load_cases()
        if c.functionality.startswith(groups)
        and len(c.text.split()) <= 40
        and c.functionality not in ("sg_late_in_long_post", "harm_padded")
    ]
    rng.shuffle(cases)
    return cases[:limit]


def identity_texts() -> list[str]:
    return [t.format(name=n, identity=i) for t in IDENTITY_TEMPLATES for i in IDENTITIES for n in NAMES[:3]]


def recognition_texts() -> list[tuple[str, str]]:
    out = []
    for k, base in enumerate(RECOGNITION):
        out += [
            ("none", base),
            ("one", f"{NAMES[k]}: {base}"),
            ("two", f"{NAMES[k]} and {NAMES[k + 4]}, {base[0].lower()}{base[1:]}"),
            ("three", f"{NAMES[k]}, {NAMES[k + 4]} and {NAMES[k + 8]}: {base}"),
        ]
    return out


def run_shortcuts(pipeline: ScreeningPipeline, *, pairs: int = 120, seed: int = 13) -> dict[str, Any]:
    """Flip rates and publish rates for the three counterfactual families."""

    def decide(texts: Sequence[str], kind: str = "post") -> list[str]:
        out: list[str] = []
        for i in range(0, len(texts), 32):
            out += [
                r.decision
                for r in pipeline.screen_many([ScreenRequest(text=t, kind=kind) for t in texts[i : i + 32]])
            ]
        return out

    ident = _pairs_identifiers(pairs, seed)
    bare = decide([b for _, b, _ in ident])
    framed = decide([f for _, _, f in ident])
    urgent_bare = [i for i, d in enumerate(bare) if d == "escalate"]
    flips = [
        {"bare": ident[i][1][:120], "framed_decision": framed[i]}
        for i in urgent_bare
        if framed[i] != "escalate"
    ]
    gained = sum(1 for i, d in enumerate(bare) if d != "escalate" and framed[i] == "escalate")
    padding = _padding_cases(pairs, seed)
    alone = decide([t for _, t in padding])
    after = decide([f"{PLEASANT} {t}" for _, t in padding])
    before = decide([f"{t} {PLEASANT}" for _, t in padding])
    harmful_alone = [i for i, d in enumerate(alone) if d not in PUBLISHED]
    identity = identity_texts()
    identity_decisions = decide(identity)
    recog = recognition_texts()
    recog_decisions = decide([t for _, t in recog], kind="special_mention")
    by_names: dict[str, Counter[str]] = {}
    for (n, _), d in zip(recog, recog_decisions, strict=True):
        by_names.setdefault(n, Counter())[d] += 1
    per_identity = {
        i: sum(
            1
            for t, d in zip(identity, identity_decisions, strict=True)
            if d in PUBLISHED and (f" {i} " in f" {t} " or f" {i}." in t or f" {i}," in t)
        )
        for i in IDENTITIES
    }
    return {
        "identifier_pairs": len(ident),
        "identifier_escalated_bare": len(urgent_bare),
        "identifier_lost_when_identifiers_added": len(flips),
        "identifier_gained_when_identifiers_added": gained,
        "identifier_flip_examples": flips[:10],
        "identity_sentences": len(identity),
        "identity_published": sum(d in PUBLISHED for d in identity_decisions),
        "identity_decisions": dict(Counter(identity_decisions)),
        "identity_published_per_term": per_identity,
        "identity_held_examples": [
            t for t, d in zip(identity, identity_decisions, strict=True) if d not in PUBLISHED
        ][:10],
        "recognition_by_names": {k: dict(v) for k, v in by_names.items()},
        "recognition_published": sum(d in PUBLISHED for d in recog_decisions),
        "recognition_posts": len(recog),
        "padding_cases": len(padding),
        "padding_held_alone": len(harmful_alone),
        "padding_same_decision_after": sum(after[i] == alone[i] for i in range(len(padding))),
        "padding_same_decision_before": sum(before[i] == alone[i] for i in range(len(padding))),
        "padding_published_when_padded": sum(
            1 for i in harmful_alone if after[i] in PUBLISHED or before[i] in PUBLISHED
        ),
    }


def run_and_report(pipeline: ScreeningPipeline, output_dir: Path) -> dict[str, Any]:
    report = run_shortcuts(pipeline)
    report["model_version"] = pipeline.classifier.version
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "shortcuts.json").write_text(json.dumps(report, indent=1, ensure_ascii=False))
    return report
