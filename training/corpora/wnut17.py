"""WNUT-17 emerging entities (CoNLL BIO) -> ``PiiSample`` with PERSON spans only, for name-redaction recall.

Text is the tokens joined by single spaces (the original spacing is not recoverable), and spans are
character offsets into that text. Only ``person`` entities are kept, typed ``PERSON``. In the test file some
tokens carry comma-separated alternative tags (adjudicators accepted several types); a token counts as
person when ``person`` is among the alternatives (``accept_alternatives=True``, the default), because a
redactor that hides such a name is not wrong.
"""

from __future__ import annotations

from pathlib import Path

from training.corpora._common import PiiSample, read_text

FOLDER = "wnut17_emerging_entities"
_FILES: dict[str, str] = {
    "train": "wnut17train.conll",
    "validation": "emerging.dev.conll",
    "test": "emerging.test.conll",
}


def _sentences(text: str) -> list[list[tuple[str, str]]]:
    """Blank (or whitespace-only) lines separate sentences; the train file uses both forms."""
    sentences: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            if current:
                sentences.append(current)
                current = []
            continue
        token, _, tag = line.partition("\t")
        current.append((token, tag.strip() or "O"))
    if current:
        sentences.append(current)
    return sentences


def _person_tag(tag: str, accept_alternatives: bool) -> str | None:
    """Return "B"/"I" when the (possibly multi-valued) tag marks a person, else None."""
    options = [t.strip() for t in tag.split(",")] if accept_alternatives else [tag.strip()]
    for option in options:
        prefix, _, etype = option.partition("-")
        if etype == "person" and prefix in ("B", "I"):
            return prefix
    return None


def person_spans(tokens: list[tuple[str, str]], accept_alternatives: bool = True) -> PiiSample:
    """Join tokens with single spaces and turn person BIO runs into character spans."""
    text_parts: list[str] = []
    spans: list[tuple[int, int, str]] = []
    offset = 0
    open_start: int | None = None
    open_end = 0
    for token, tag in tokens:
        start = offset
        end = start + len(token)
        bio = _person_tag(tag, accept_alternatives)
        if bio == "B" or (bio == "I" and open_start is None):
            if open_start is not None:
                spans.append((open_start, open_end, "PERSON"))
            open_start, open_end = start, end
        elif bio == "I":
            open_end = end
        elif open_start is not None:
            spans.append((open_start, open_end, "PERSON"))
            open_start = None
        text_parts.append(token)
        offset = end + 1
    if open_start is not None:
        spans.append((open_start, open_end, "PERSON"))
    return PiiSample(text=" ".join(text_parts), spans=spans)


def load_wnut17_persons(
    root: Path | None, split: str = "test", limit: int | None = None, accept_alternatives: bool = True
) -> list[PiiSample]:
    """Sentences of one split with their PERSON spans; ``[]`` when the corpus is absent."""
    if root is None or split not in _FILES:
        return []
    path = root / FOLDER / _FILES[split]
    if not path.is_file():
        return []
    samples: list[PiiSample] = []
    for index, tokens in enumerate(_sentences(read_text(path))):
        if limit is not None and len(samples) >= limit:
            break
        sample = person_spans(tokens, accept_alternatives)
        samples.append(
            PiiSample(
                text=sample.text,
                spans=sample.spans,
                id=f"wnut17:{split}-{index}",
                source=FOLDER,
                meta={"split": split},
            )
        )
    return samples
