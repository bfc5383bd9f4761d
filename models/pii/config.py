"""The versioned PII config (``config.yaml``): recognizers, thresholds, placeholders, roles and role cues.

Read here only, so the Redactor, the placeholders (``findings.placeholder_for``) and the name recognizer's
default cue lists all come from the one file.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import yaml

DEFAULT_CONFIG: Final[Path] = Path(__file__).with_name("config.yaml")


def load_config(path: Path | None = None) -> dict[str, Any]:
    """Read the versioned YAML config."""
    with (path or DEFAULT_CONFIG).open(encoding="utf-8") as fh:
        cfg: dict[str, Any] = yaml.safe_load(fh)
    if "version" not in cfg:
        raise ValueError("PII config has no version")
    return cfg


@lru_cache(maxsize=1)
def default_config() -> dict[str, Any]:
    """``config.yaml`` as shipped, read once. Shared: do not modify the returned dict."""
    return load_config()
