"""Residents'-privacy redaction: UK/care PII recognizers on Presidio, with a staff directory kept."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

# Offline before Presidio (and its tldextract) is imported: the one place that sets it is ``carescreen``.
import carescreen  # noqa: F401

#: What spaCy's thinc (``thinc.compat``) and Presidio (its Hugging Face NER engine) import when they can, though
#: our pipeline uses neither: importing them made every serving process load PyTorch and Transformers (about
#: 400 MB of RSS and 3 s of start-up; DEVELOPMENT.md). A process that has already imported them keeps them.
OPTIONAL_HEAVY_MODULES = ("torch", "transformers")


@contextmanager
def optional_modules_absent(names: tuple[str, ...] = OPTIONAL_HEAVY_MODULES) -> Iterator[None]:
    """While importing spaCy and Presidio, ``import torch`` (and ``transformers``) raise ImportError, which
    both treat as "not installed"; afterwards the names can be imported normally again (training does)."""
    blocked = [n for n in names if n not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]  # the import system's "known absent" marker
    try:
        yield
    finally:
        for name in blocked:
            if sys.modules.get(name, ...) is None:
                del sys.modules[name]


with optional_modules_absent():
    # Imported first here, so thinc and Presidio decide now that PyTorch and Transformers are absent.
    import presidio_analyzer  # noqa: F401
    import spacy  # noqa: F401

    from models.pii.findings import Finding, Redaction
    from models.pii.redactor import Redactor

__all__ = ["Finding", "Redaction", "Redactor", "optional_modules_absent"]
