"""The console in a real headless Chromium against a real uvicorn server: sign in, review by keyboard, phone width.

Screenshots go to test-artifacts/console-*.png (git-ignored) so a person can look at the pages.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(settings: Any, app_state: Any) -> Iterator[str]:
    """Run the real app (lifespan, middleware, static files) with uvicorn in a thread; yields its base URL."""
    import uvicorn

    from service.app import create_app

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, state=app_state),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
        )
    )
    thread = threading.Thread(target=server.run, name="console-uvicorn", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    try:
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or not thread.is_alive():
                raise AssertionError("the server did not become ready")
            time.sleep(0.1)
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@contextmanager
def chromium() -> Iterator[Any]:
    """Headless Chromium from the system (never downloaded); skips when it is not installed."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed; the browser tests need a system Chromium")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def screen(base: str, poster: str, text: str, **extra: object) -> dict[str, Any]:
    r = httpx.post(
        f"{base}/v1/screen",
        json={"text": text, **extra},
        headers={"Authorization": f"Bearer {poster}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def sign_in(page: Any, base: str, key: str) -> None:
    page.goto(f"{base}/console/login")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/console")


def watch_csp(page: Any) -> list[str]:
    """Collect console errors: a CSP violation (an inline script or style) would show up here."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def test_review_by_keyboard(settings, app_state, make_key):  # type: ignore[no-untyped-def]
    with serve(settings, app_state) as base, chromium() as browser:
        poster = make_key(role="poster")
        mod = make_key(role="moderator")
        urgent = screen(
            base,
            poster,
            "Doris in room 4 has a bruise on her arm and her daughter is worried",
            circle="west-wing",
            anonymous=True,
            author_id="hidden-author",
        )["review"]["id"]
        hold = screen(
            base,
            poster,
            "you idiot, you left the rota in a mess again",
            circle="night-shift",
            author_id="sam",
        )["review"]["id"]
        third = screen(
            base, poster, "Call me on 07700 900123 about the useless cow on days", circle="night-shift"
        )["review"]["id"]

        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors = watch_csp(page)
        sign_in(page, base, mod)
        assert page.title() == "Review queue · CareScreen console"
        rows = page.locator("table.queue tbody tr")
        assert rows.count() == 3
        assert "badge-urgent" in (rows.first.inner_html())
        assert "hidden-author" not in page.content()
        page.screenshot(path=str(ARTIFACTS / "console-queue.png"), full_page=True)

        page.get_by_role("button", name="Start reviewing").click()
        page.wait_for_url(f"{base}/console/reviews/{urgent}")
        assert page.locator("mark.pii").count() >= 2
        assert page.locator("#label-safeguarding").is_checked()
        page.screenshot(path=str(ARTIFACTS / "console-review.png"), full_page=True)

        # Typing in a box never fires a shortcut.
        page.locator("#note").click()
        page.keyboard.type("are we sure? reviewed carefully")
        page.wait_for_timeout(300)
        assert page.url == f"{base}/console/reviews/{urgent}"
        page.locator("#note").fill("")

        # "e" escalates from anywhere else on the page; the next item loads.
        page.locator("h1").click()
        page.keyboard.press("e")
        page.wait_for_url(f"{base}/console/reviews/{hold}")
        assert "Decision recorded: Escalated." in page.locator(".flash").inner_text()

        # "a" approves and the third item loads.
        page.keyboard.press("a")
        page.wait_for_url(f"{base}/console/reviews/{third}")
        assert "Decision recorded: Approved." in page.locator(".flash").inner_text()
        page.screenshot(path=str(ARTIFACTS / "console-after-keyboard.png"), full_page=True)

        # "n" skips: nothing else is free, so it goes back to the queue and the item is released.
        page.keyboard.press("n")
        page.wait_for_url(f"{base}/console")
        assert "Nothing else is waiting" in page.locator(".flash").inner_text()

        headers = {"Authorization": f"Bearer {mod}"}
        got = [httpx.get(f"{base}/v1/reviews/{rid}", headers=headers).json() for rid in (urgent, hold, third)]
        assert [g["moderator_decision"] for g in got] == ["escalate", "approve", None]
        assert got[2]["claimed"] is False
        assert not [e for e in errors if "Content Security Policy" in e], errors


def test_phone_width(settings, app_state, make_key):  # type: ignore[no-untyped-def]
    with serve(settings, app_state) as base, chromium() as browser:
        poster = make_key(role="poster")
        screen(base, poster, "Doris in room 4 has a bruise on her arm", circle="west-wing")
        screen(base, poster, "you idiot", circle="night-shift")
        context = browser.new_context(
            viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True
        )
        page = context.new_page()
        errors = watch_csp(page)
        sign_in(page, base, make_key(role="safeguarding_lead"))

        def no_sideways_scroll() -> None:
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"page is {width}px wide at a 390px viewport"

        no_sideways_scroll()
        assert page.get_by_role("link", name="Reports").is_visible()
        page.screenshot(path=str(ARTIFACTS / "console-phone-queue.png"), full_page=True)
        page.get_by_role("button", name="Start reviewing").click()
        page.wait_for_url("**/console/reviews/*")
        no_sideways_scroll()
        assert page.get_by_role("button", name="Escalate").is_visible()
        # Keyboard focus is visible (an outline is drawn on the focused control).
        page.keyboard.press("Tab")
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none"
        page.screenshot(path=str(ARTIFACTS / "console-phone-review.png"), full_page=True)
        context.close()
        assert not [e for e in errors if "Content Security Policy" in e], errors


def test_the_lead_sees_urgent_items_appear_and_acknowledges_them(settings, app_state, make_key):  # type: ignore[no-untyped-def]
    """Issue 18 §4: the banner appears without a reload, acknowledging is recorded in the audit trail, and the
    queue refreshes itself; all under the CSP (no inline script)."""
    from sqlalchemy import select

    from storage.tables import AuditEntry

    fast = settings.model_copy(update={"console_refresh_seconds": 2})
    app_state.settings = fast
    with serve(fast, app_state) as base, chromium() as browser:
        poster = make_key(role="poster")
        lead = make_key(role="safeguarding_lead")
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors = watch_csp(page)
        sign_in(page, base, lead)
        assert page.locator(".urgent-banner").count() == 0
        assert page.locator("table.queue").count() == 0
        page.evaluate("window.__marker = 'same page'")  # survives only if the page is never reloaded

        rid = screen(base, poster, "Doris told me her son took her money again", circle="west-wing")[
            "review"
        ]["id"]
        page.locator(".urgent-banner").wait_for(timeout=10_000)
        assert "1 urgent item not yet acknowledged" in page.locator(".urgent-banner h2").inner_text()
        page.locator("table.queue tbody tr").first.wait_for(timeout=10_000)  # the queue refreshed itself too
        assert page.evaluate("window.__marker") == "same page"
        assert "Doris" not in page.locator(".urgent-banner").inner_text()  # redacted text only
        page.screenshot(path=str(ARTIFACTS / "console-urgent-banner.png"), full_page=True)

        page.locator(f'[data-ack="{rid}"]').click()
        page.wait_for_url(f"{base}/console")
        assert "Acknowledged" in page.locator(".flash").inner_text()
        assert page.locator(".urgent-banner").count() == 0
        with app_state.require_db().session() as s:
            acts = list(s.execute(select(AuditEntry).where(AuditEntry.subject == f"review:{rid}")).scalars())
        ack = [a for a in acts if a.action == "review.acknowledge"]
        assert len(ack) == 1 and ack[0].actor.startswith("safeguarding_lead:")
        item = httpx.get(f"{base}/v1/reviews/{rid}", headers={"Authorization": f"Bearer {lead}"}).json()
        assert item["acknowledged_at"] and item["sla_state"] == "ok"
        assert not [e for e in errors if "Content Security Policy" in e], errors
