"""What a screening records for culture evidence reports (issue 21): the author's role and location, the post it
answers, whether it asks something, its themes, and for a Special Mention or OOO the roles, locations and keyed
pseudonyms of the directory colleagues it names. Never a name: colleagues are stored as ``recipient_key``s."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from models.culture_signals import RECIPIENT_KINDS, UNKNOWN_ROLE, is_question, named_colleagues
from models.pipeline import ScreenResult
from service.schemas import ScreenBody
from storage.crypto import recipient_key
from storage.staff import StaffEntry


def _collapsed(value: str | None) -> str | None:
    return (" ".join(value.split()) or None) if value is not None else None


def culture_fields(
    body: ScreenBody,
    result: ScreenResult,
    *,
    org: str,
    directory: Sequence[StaffEntry],
    secret: Callable[[], str],
) -> dict[str, Any]:
    """The culture columns of one screening. ``secret`` gives the current service secret (asked only when a
    colleague is named). ``themes`` is ``ScreenResult.themes`` (a list, maybe empty) when a tagger ran, else
    None."""
    kind = body.kind or "post"
    themes = getattr(result, "themes", None)
    if not themes and getattr(result, "themes_version", None) is None:
        themes = None  # no tagger ran: unknown, not "no themes"
    fields: dict[str, Any] = {
        "author_role": body.author_role,
        "location": _collapsed(body.location),
        "reply_to": body.reply_to,
        "is_question": is_question(body.text),
        "themes": list(themes) if themes is not None else None,
        "recipient_roles": None,
        "recipient_locations": None,
        "recipient_keys": None,
    }
    if kind not in RECIPIENT_KINDS or "pii" in result.degraded:
        return fields
    named = [directory[i] for i in named_colleagues(body.text, result.kept, [e.name for e in directory])]
    key = secret() if named else ""
    fields["recipient_roles"] = [e.role or UNKNOWN_ROLE for e in named]
    fields["recipient_locations"] = [e.location for e in named]
    fields["recipient_keys"] = [recipient_key(key, org=org, name=e.name) for e in named]
    return fields
