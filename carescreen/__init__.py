"""CareScreen: settings, paths and the one command-line entry point."""

from __future__ import annotations

import os

# Offline by construction: Presidio's tldextract must never fetch the public-suffix list, MLflow must
# never phone home, and Hugging Face must never reach a hub. Set before any of them is imported.
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
