"""Shared fixtures for the reliability checks: the tiny real model's settings for subprocess servers."""

from __future__ import annotations

import pytest

from carescreen.config import Settings


@pytest.fixture(scope="session")
def model_settings(tiny_model) -> Settings:  # type: ignore[no-untyped-def]
    """Settings whose var_dir / MLflow store hold a real (tiny) champion for ``carescreen serve`` subprocesses."""
    settings, _ = tiny_model
    return settings  # type: ignore[no-any-return]
