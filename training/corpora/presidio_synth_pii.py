"""Presidio-research synthetic PII sentences (``synth_dataset_v2.json``) as ``PiiSample`` span sets.

Not a classification corpus, so it has no ``CorpusLoader``: it feeds the PII-redaction evaluation.
Entity types are mapped onto the project's names where the meaning matches (``ENTITY_MAP``); the rest keep
their Presidio names. ``ZIP_CODE`` is deliberately NOT ``UK_POSTCODE``: the values are US/international
ZIP codes and would teach (or score) the wrong format, so they stay ``ZIP_CODE``. ``DATE_TIME`` is any date or
time, not a date of birth, so it stays ``DATE_TIME``. Spans whose offsets do not reproduce
``entity_value`` are dropped (counted in ``meta["dropped_spans"]``).
"""

from __future__ import annotations

import json
from pathlib import Path

from training.corpora._common import PiiSample, read_text

FOLDER = "presidio_synth_pii"

#: Presidio type -> project type. Anything not listed keeps its Presidio name.
ENTITY_MAP: dict[str, str] = {
    "PERSON": "PERSON",
    "PHONE_NUMBER": "PHONE_NUMBER",
    "EMAIL_ADDRESS": "EMAIL_ADDRESS",
    "STREET_ADDRESS": "STREET_ADDRESS",
    "ZIP_CODE": "ZIP_CODE",
    "DATE_TIME": "DATE_TIME",
}


def load_pii_spans(root: Path | None, limit: int | None = None) -> list[PiiSample]:
    """Read the JSON array; ``[]`` when the corpus is absent. ``root`` holds the corpus folders."""
    if root is None:
        return []
    path = root / FOLDER / "synth_dataset_v2.json"
    if not path.is_file():
        return []
    records = json.loads(read_text(path))
    samples: list[PiiSample] = []
    for index, record in enumerate(records if isinstance(records, list) else []):
        if limit is not None and len(samples) >= limit:
            break
        text = record.get("full_text") or ""
        if not text.strip():
            continue
        spans: list[tuple[int, int, str]] = []
        dropped = 0
        for span in record.get("spans") or []:
            start, end = span.get("start_position"), span.get("end_position")
            etype = str(span.get("entity_type", ""))
            value = span.get("entity_value")
            valid = isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)
            if not valid or (value is not None and text[start:end] != value):
                dropped += 1
                continue
            spans.append((start, end, ENTITY_MAP.get(etype, etype)))
        meta = {"template_id": record.get("template_id"), "dropped_spans": dropped}
        samples.append(
            PiiSample(text=text, spans=sorted(spans), id=f"{FOLDER}:{index}", source=FOLDER, meta=meta)
        )
    return samples
