"""Console sign-in state: a signed, HttpOnly, SameSite=Strict cookie plus a per-session CSRF token.

The cookie never holds the API key: only the key id, org, role and a random CSRF token. The key is re-checked
against the database on every request, so revoking a key ends its console sessions at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from service.auth import Principal
from service.deps import db_or_503
from service.state import AppState
from storage.crypto import derive_key
from storage.tables import ApiKey, EndedSession

SESSION_COOKIE = "cs_console"
LOGIN_CSRF_COOKIE = "cs_login_csrf"
FLASH_COOKIE = "cs_flash"
SESSION_MAX_AGE = 8 * 60 * 60
CONSOLE_ROLES = ("moderator", "safeguarding_lead", "admin", "manager")
#: Who works the queue and review pages (a read-only ``manager`` does not).
MODERATION_ROLES = ("moderator", "safeguarding_lead", "admin")
REPORT_ROLES = ("safeguarding_lead", "admin")
#: Who reads the culture evidence report (``/console/culture``): the lead, admins and managers.
CULTURE_ROLES = ("safeguarding_lead", "admin", "manager")


@dataclass(frozen=True)
class ConsoleUser:
    principal: Principal
    csrf: str

    @property
    def can_report(self) -> bool:
        return self.principal.role in REPORT_ROLES

    @property
    def can_moderate(self) -> bool:
        return self.principal.role in MODERATION_ROLES

    @property
    def can_read_culture(self) -> bool:
        return self.principal.role in CULTURE_ROLES

    @property
    def home(self) -> str:
        """Where signing in (and the brand link) leads: the queue, or a manager's culture report."""
        return "/console" if self.can_moderate else "/console/culture"


def _serializer(state: AppState, salt: str) -> URLSafeTimedSerializer:
    """A key of its own (derived from the vault key), so a console cookie can never decrypt anything."""
    key = derive_key(state.settings.secrets()[0], "console-cookie").hex()
    return URLSafeTimedSerializer(key, salt=salt)


def _set(
    response: Response, state: AppState, name: str, value: str, max_age: int, path: str = "/console"
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        httponly=True,
        samesite="strict",
        secure=bool(state.settings.cookie_secure),
    )


def start_session(response: Response, state: AppState, principal: Principal) -> None:
    token = _serializer(state, "session").dumps(
        {"k": principal.key_id, "o": principal.org, "r": principal.role, "c": secrets.token_urlsafe(32)}
    )
    _set(response, state, SESSION_COOKIE, token, SESSION_MAX_AGE)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/console")


def _session_hash(csrf: str) -> str:
    """A session's id on the server: the hash of its random per-session token (the cookie itself is not kept)."""
    return hashlib.sha256(b"carescreen-console-session:" + csrf.encode()).hexdigest()


def end_session(response: Response, state: AppState, user: ConsoleUser) -> None:
    """Sign out on the server too: the session is recorded as ended, so a copy of the cookie no longer works."""
    with db_or_503(state).session() as s:
        if s.get(EndedSession, _session_hash(user.csrf)) is None:
            s.add(EndedSession(session_hash=_session_hash(user.csrf), key_id=user.principal.key_id))
    response.delete_cookie(SESSION_COOKIE, path="/console")


def _load_session(request: Request, state: AppState) -> dict[str, Any] | None:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        data = _serializer(state, "session").loads(raw, max_age=SESSION_MAX_AGE)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not {"k", "o", "r", "c"} <= data.keys():
        return None
    return data


def current_user(request: Request, state: AppState) -> ConsoleUser | None:
    """The signed-in user, or None when the cookie is absent, forged, stale, or the key was revoked."""
    data = _load_session(request, state)
    if data is None or data["r"] not in CONSOLE_ROLES:
        return None
    with db_or_503(state).session() as s:
        key = s.get(ApiKey, int(data["k"]))
        if key is None or key.revoked_at is not None or key.org != data["o"] or key.role != data["r"]:
            return None
        if (
            s.get(EndedSession, _session_hash(str(data["c"]))) is not None
        ):  # signed out: refused on every replica
            return None
    return ConsoleUser(Principal(int(data["k"]), str(data["o"]), str(data["r"])), str(data["c"]))


def csrf_ok(expected: str, given: str | None) -> bool:
    return bool(given) and bool(expected) and hmac.compare_digest(expected.encode(), (given or "").encode())


def login_csrf(request: Request, state: AppState) -> tuple[str, str | None]:
    """Double-submit token for the sign-in form (stops login CSRF): (token, cookie value to set or None)."""
    raw = request.cookies.get(LOGIN_CSRF_COOKIE)
    if raw:
        try:
            return str(_serializer(state, "login").loads(raw, max_age=3600)), None
        except BadSignature:
            pass
    token = secrets.token_urlsafe(32)
    return token, _serializer(state, "login").dumps(token)


def set_login_csrf(response: Response, state: AppState, cookie_value: str) -> None:
    _set(response, state, LOGIN_CSRF_COOKIE, cookie_value, 3600)


def login_csrf_from_cookie(request: Request, state: AppState) -> str | None:
    raw = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not raw:
        return None
    try:
        return str(_serializer(state, "login").loads(raw, max_age=3600))
    except BadSignature:
        return None


def set_flash(response: Response, state: AppState, message: str, kind: str = "ok") -> None:
    _set(
        response, state, FLASH_COOKIE, _serializer(state, "flash").dumps({"m": message[:300], "k": kind}), 120
    )


def read_flash(request: Request, state: AppState) -> dict[str, str] | None:
    """The one-shot message; the page that shows it clears the cookie (see ``clear_flash``)."""
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        data = _serializer(state, "flash").loads(raw, max_age=120)
    except BadSignature:
        return None
    return {"message": str(data.get("m", "")), "kind": str(data.get("k", "ok"))}


def clear_flash(request: Request, response: Response) -> None:
    if request.cookies.get(FLASH_COOKIE):
        response.delete_cookie(FLASH_COOKIE, path="/console")
