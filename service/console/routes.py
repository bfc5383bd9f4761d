"""Console routes (placeholder until the console lands)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.staticfiles import StaticFiles

router = APIRouter(prefix="/console", include_in_schema=False)
STATIC_DIR = Path(__file__).with_name("static")


def static_files() -> StaticFiles:
    STATIC_DIR.mkdir(exist_ok=True)
    return StaticFiles(directory=STATIC_DIR)
