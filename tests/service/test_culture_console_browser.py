"""The culture evidence page in headless Chromium against a real server (issue 21): a manager signs in and lands
on it; at desktop and phone width every number on the page equals the JSON of ``GET /v1/reports/culture`` for
the same query; the charts load; the page fits a phone; it prints to PDF; the API's printable page keeps its
inline styles under its own CSP.

Artifacts (test-artifacts/, git-ignored): culture-desktop.png, culture-phone.png, culture-report.pdf,
culture-report-api.pdf.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.helpers import auth
from tests.service.culture_seed import Org, seed, this_week
from tests.service.test_console_browser import ARTIFACTS, chromium, serve, watch_csp

pytestmark = pytest.mark.slow

DESKTOP = {"width": 1200, "height": 900}
PHONE = {"width": 390, "height": 844}
CELLS_JS = "els => els.map(e => [e.dataset.s, e.dataset.m, e.dataset.p, e.dataset.k, e.textContent])"


def sign_in(page: Any, base: str, key: str, lands_on: str) -> None:
    page.goto(f"{base}/console/login")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}{lands_on}")


def json_cells(report: dict[str, Any]) -> dict[tuple[str, str, str, str], str]:
    return {
        (s["id"], m["id"], p, k): cell["shown"]
        for s in report["sections"]
        for m in s["metrics"]
        for p in ("current", "previous")
        for k, cell in m[p].items()
    }


def page_cells(page: Any) -> list[tuple[str, str, str, str, str]]:
    return [tuple(c) for c in page.locator("[data-s]").evaluate_all(CELLS_JS)]


def test_culture_page_matches_the_json_and_prints(settings, app_state, make_key):  # type: ignore[no-untyped-def]
    with (
        serve(settings, app_state) as base,
        chromium() as browser,
        httpx.Client(base_url=base, timeout=30) as c,
    ):
        org = Org(c, lambda o, r: make_key(o, r), app_state)
        seed(org)
        query = this_week()
        api = c.get("/v1/reports/culture", params=query, headers=org.manager)
        assert api.status_code == 200, api.text
        expected = json_cells(api.json())
        qs = f"start={query['start']}&end={query['end']}"

        for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            context = browser.new_context(viewport=viewport, locale="en-GB", accept_downloads=True)
            page = context.new_page()
            errors = watch_csp(page)
            sign_in(page, base, make_key(org.name, "manager"), "/console/culture")
            nav = page.get_by_role("navigation", name="Console")
            assert nav.get_by_role("link", name="Culture").count() == 1
            assert nav.get_by_role("link", name="Queue").count() == 0  # a manager has no queue
            page.goto(f"{base}/console/culture?{qs}")
            assert page.title() == "Culture evidence · CareScreen console"
            cells = page_cells(page)
            assert len(cells) > 100
            for s, m, p, k, text in cells:
                assert expected[(s, m, p, k)] == text, (name, s, m, p, k)
            assert ("recognition", "recognitions", "current", "total", "6") in cells
            images = page.locator("figure.chart img")
            assert images.count() == 5
            widths = images.evaluate_all("imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
            assert all(w > 0 for w in widths), widths
            # Nothing wider than the screen: wide tables scroll inside their own box.
            overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, (name, overflow)
            page.screenshot(path=str(ARTIFACTS / f"culture-{name}.png"), full_page=True)
            assert not [e for e in errors if "Content Security Policy" in e], errors
            context.close()

        # The lead reaches it from the navigation; the CSV downloads through the session; it prints.
        page = browser.new_page(viewport=DESKTOP, locale="en-GB")
        errors = watch_csp(page)
        sign_in(page, base, make_key(org.name, "safeguarding_lead"), "/console")
        page.get_by_role("navigation", name="Console").get_by_role("link", name="Culture").click()
        page.wait_for_url(f"{base}/console/culture")
        page.goto(f"{base}/console/culture?{qs}")
        with page.expect_download() as dl:
            page.get_by_role("link", name="Download CSV").click()
        csv_text = dl.value.path().read_text()
        assert csv_text.startswith("section,metric,period,key,value,suppressed")
        assert "recognition,recognitions,current,total,6,false" in csv_text
        page.emulate_media(media="print")
        assert not page.locator("header.topbar").is_visible()
        assert not page.get_by_role("button", name="Update report").is_visible()
        pdf = ARTIFACTS / "culture-report.pdf"
        page.pdf(path=str(pdf), format="A4", print_background=True)
        assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 20_000
        assert not [e for e in errors if "Content Security Policy" in e], errors

        # The API's printable page: one file, styled by its inline stylesheet (allowed by hash), same numbers.
        context = browser.new_context(
            viewport=DESKTOP, extra_http_headers=auth(make_key(org.name, "manager"))
        )
        page = context.new_page()
        errors = watch_csp(page)
        page.goto(f"{base}/v1/reports/culture?{qs}&format=html")
        assert (
            page.locator("table.data").first.evaluate("t => getComputedStyle(t).borderCollapse") == "collapse"
        )
        for s, m, p, k, text in page_cells(page):
            assert expected[(s, m, p, k)] == text, (s, m, p, k)
        page.emulate_media(media="print")
        api_pdf = ARTIFACTS / "culture-report-api.pdf"
        page.pdf(path=str(api_pdf), format="A4", print_background=True)
        assert api_pdf.read_bytes().startswith(b"%PDF")
        assert not [e for e in errors if "Content Security Policy" in e], errors
        context.close()
