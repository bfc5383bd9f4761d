"""Console sign-in and sign-out: an API key is exchanged for a session cookie (never stored in it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from service.console.pages import (
    check_csrf,
    console_db,
    forbidden,
    redirect,
    render,
    to_login,
)
from service.console.session import (
    CONSOLE_ROLES,
    MODERATION_ROLES,
    csrf_ok,
    current_user,
    end_session,
    login_csrf,
    login_csrf_from_cookie,
    set_login_csrf,
    start_session,
)
from service.deps import StateDep, authenticate_token
from storage import audit

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, state: StateDep) -> Response:
    if (user := current_user(request, state)) is not None:
        return RedirectResponse(user.home, status_code=status.HTTP_303_SEE_OTHER)
    token, cookie = login_csrf(request, state)
    resp = render(request, "login.html", {"title": "Sign in", "csrf": token, "error": None})
    if cookie:
        set_login_csrf(resp, state, cookie)
    return resp


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    state: StateDep,
    api_key: Annotated[str, Form(max_length=300)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Exchange an API key for a console session; the key itself is never stored in the cookie."""
    expected = login_csrf_from_cookie(request, state)
    if expected is None or not csrf_ok(expected, csrf):
        return forbidden(request, None, "The sign-in form expired. Reload the page and try again.")

    def again(message: str, code: int) -> HTMLResponse:
        return render(
            request, "login.html", {"title": "Sign in", "csrf": expected, "error": message}, status_code=code
        )

    if not api_key.strip():
        return again("Enter your API key.", status.HTTP_400_BAD_REQUEST)
    try:
        principal = authenticate_token(state, api_key.strip())
    except HTTPException as exc:
        if exc.status_code == status.HTTP_401_UNAUTHORIZED:
            return again("That key was not recognised, or it has been revoked.", exc.status_code)
        return again("Sign-in is unavailable at the moment; try again shortly.", exc.status_code)
    if principal.role not in CONSOLE_ROLES:
        return again(
            "Poster keys cannot sign in to the console. Use a moderator, safeguarding lead, admin or manager "
            "key.",
            status.HTTP_403_FORBIDDEN,
        )
    with console_db(state) as s:
        audit.append(
            s,
            org=principal.org,
            actor=principal.actor,
            action="console.login",
            subject=f"key:{principal.key_id}",
        )
    # A manager reads the culture report only (read-only): they land there, never on the queue.
    resp = redirect(
        "/console" if principal.role in MODERATION_ROLES else "/console/culture", state, "Signed in."
    )
    start_session(resp, state, principal)
    return resp


@router.post("/logout")
def logout(request: Request, state: StateDep, csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    user = current_user(request, state)
    if user is None:
        return to_login()
    if (bad := check_csrf(request, user, csrf)) is not None:
        return bad
    resp = redirect("/console/login", state, "Signed out.")
    end_session(resp, state, user)
    return resp
