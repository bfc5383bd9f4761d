"""API documentation offline (issue "operations", item 2): /docs and /redoc from installed files under a CSP with
no inline script, and an OpenAPI schema that declares the bearer key, each route's roles and its error bodies.
The pages in a real browser: tests/service/test_docs_browser.py."""

from __future__ import annotations

import re
from typing import Any

import pytest

from service.schemas import ErrorBody, ScreenBody, ScreenResponse
from tests.helpers import auth
from tests.service.test_authorisation import ROUTES

# The service's policy for every page but the two documentation pages, written out so a change shows here.
SERVICE_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
PATH_PARAMS = {
    "{review_id}": "{rid}",
    "{post_id}": "{pid}",
    "{webhook_id}": "{wid}",
    "{delivery_id}": "{did}",
}


@pytest.fixture
def client(shared):  # type: ignore[no-untyped-def]
    return shared.client


@pytest.fixture
def schema(client) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = client.get("/openapi.json")
    assert r.status_code == 200
    return r.json()  # type: ignore[no-any-return]


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m.upper(), p, op) for p, ops in schema["paths"].items() for m, op in ops.items()]


def _directives(csp: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in csp.split(";"):
        name, *values = part.split()
        out[name] = values
    return out


# --- the schema -------------------------------------------------------------------------------------------------


def test_bearer_scheme_is_declared(schema) -> None:  # type: ignore[no-untyped-def]
    scheme = schema["components"]["securitySchemes"]["HTTPBearer"]
    assert scheme["type"] == "http"
    assert scheme["scheme"] == "bearer"
    assert schema["paths"]["/v1/screen"]["post"]["security"] == [{"HTTPBearer": []}]
    assert "security" not in schema["paths"]["/healthz"]["get"]
    assert "security" not in schema["paths"]["/readyz"]["get"]


def test_every_v1_route_is_locked_and_names_its_roles(schema) -> None:  # type: ignore[no-untyped-def]
    """The roles in the schema are the roles the authorisation table enforces (tests/service/test_authorisation)."""
    allowed = {(m, p.split("?")[0]): roles for m, p, _, roles, _ in ROUTES.values()}
    checked = 0
    for method, path, op in _operations(schema):
        if not path.startswith("/v1/"):
            continue
        assert op["security"] == [{"HTTPBearer": []}], (method, path)
        assert op["x-allowed-roles"], (method, path)
        assert "**Allowed roles:**" in op["description"], (method, path)
        assert all(f"`{r}`" in op["description"] for r in op["x-allowed-roles"]), (method, path)
        short = path
        for name, alias in PATH_PARAMS.items():
            short = short.replace(name, alias)
        if (method, short) in allowed:  # test_authorisation's own test keeps its table complete
            assert set(op["x-allowed-roles"]) == allowed[(method, short)], (method, path)
            checked += 1
    assert checked >= 30  # every route of the table that the app serves (32 when this was written)


def test_error_bodies_are_documented(schema) -> None:  # type: ignore[no-untyped-def]
    assert schema["components"]["schemas"]["ErrorBody"]["required"] == ["detail"]
    for method, path, op in _operations(schema):
        responses = op["responses"]
        if path.startswith("/v1/"):
            for code in ("401", "403", "429", "503"):
                assert responses[code]["content"]["application/json"]["schema"] == ERROR_REF, (
                    method,
                    path,
                    code,
                )
        if "{" in path:
            assert responses["404"]["content"]["application/json"]["schema"] == ERROR_REF, (method, path)
        if "requestBody" in op:
            assert "413" in responses, (method, path)
        for code, response in responses.items():
            if code.startswith(("4", "5")):
                assert response["description"], (method, path, code)
                assert "content" in response, (method, path, code)
        if "422" in responses:
            ref = responses["422"]["content"]["application/json"]["schema"]["$ref"]
            assert ref == "#/components/schemas/HTTPValidationError", (method, path)
    # A route's own wording is kept (screen.py says what a 409 means there).
    screen = schema["paths"]["/v1/screen"]["post"]["responses"]
    assert screen["409"]["description"].startswith("post_id already screened")


def test_screen_examples_are_valid_and_true(client, shared, schema) -> None:  # type: ignore[no-untyped-def]
    """The request example validates, the response example validates, and screening the example answers it."""
    components = schema["components"]["schemas"]
    [request] = components["ScreenBody"]["examples"]
    [response] = components["ScreenResponse"]["examples"]
    ScreenBody.model_validate(request)
    ScreenResponse.model_validate(response)
    ErrorBody.model_validate({"detail": "x"})
    r = client.post("/v1/screen", json=request, headers=auth(shared.make_key("org-a", "poster")))
    assert r.status_code == 200, r.text
    answer = r.json()
    for field in ("post_id", "decision", "redacted_text", "flags", "author_message", "degraded"):
        assert answer[field] == response[field], field
    assert answer["review"]["priority"] == response["review"]["priority"]
    assert [(e["type"], e["start"], e["end"], e["role"]) for e in answer["entities"]] == [
        (e["type"], e["start"], e["end"], e["role"]) for e in response["entities"]
    ]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer  "}, {"Authorization": "Bearer"}],
    ids=["missing", "basic", "blank-token", "scheme-only"],
)
def test_missing_or_malformed_key_still_401(client, headers) -> None:  # type: ignore[no-untyped-def]
    """HTTPBearer(auto_error=False) documents the key; the answer is still ours, word for word."""
    r = client.post("/v1/screen", json={"text": "hello"}, headers=headers)
    assert r.status_code == 401
    assert r.json() == {"detail": "missing or malformed bearer token"}
    assert r.headers["www-authenticate"] == "Bearer"


# --- the pages and their files ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_pages_use_only_local_files_and_no_inline_script(client, path: str) -> None:  # type: ignore[no-untyped-def]
    r = client.get(path)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "cdn." not in html
    assert "https://" not in html and "http://" not in html
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S)
    assert scripts
    for attrs, body in scripts:
        assert 'src="/docs-assets/' in attrs, attrs
        assert not body.strip(), "inline script"
    assert "<style" not in html and " style=" not in html
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert url.startswith("/docs-assets/"), url
        assert client.get(url).status_code == 200, url
    assert 'data-openapi-url="/openapi.json"' in html or 'spec-url="/openapi.json"' in html


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_pages_csp_forbids_inline_script(client, path: str) -> None:  # type: ignore[no-untyped-def]
    csp = _directives(client.get(path).headers["content-security-policy"])
    assert csp["script-src"] == ["'self'"]
    assert csp["default-src"] == ["'self'"]
    assert csp["connect-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert "'unsafe-eval'" not in " ".join(v for values in csp.values() for v in values)
    assert all(not v.startswith(("http", "*")) for values in csp.values() for v in values)


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/docs-assets/swagger-ui-bundle.js", "text/javascript"),
        ("/docs-assets/swagger-ui.css", "text/css"),
        ("/docs-assets/swagger-init.js", "text/javascript"),
        ("/docs-assets/redoc.standalone.js", "text/javascript"),
        ("/docs-assets/favicon.png", "image/png"),
    ],
)
def test_assets_are_served(client, path: str, content_type: str) -> None:  # type: ignore[no-untyped-def]
    r = client.get(path)
    assert r.status_code == 200
    assert r.headers["content-type"].split(";")[0] == content_type
    assert len(r.content) > 100
    assert r.headers["x-content-type-options"] == "nosniff"


def test_redoc_bundle_asks_no_cdn(client) -> None:  # type: ignore[no-untyped-def]
    body = client.get("/docs-assets/redoc.standalone.js").text
    assert "cdn.redoc.ly" not in body
    assert "Redoc" in body


def test_assets_folder_serves_only_the_package_files(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/docs-assets/core.py").status_code == 404
    assert client.get("/docs-assets/../core.py").status_code == 404
    assert client.get("/docs-assets/").status_code == 404


@pytest.mark.parametrize(
    "path", ["/healthz", "/openapi.json", "/console/login", "/docs-assets/swagger-ui.css"]
)
def test_other_paths_keep_the_service_csp(client, path: str) -> None:  # type: ignore[no-untyped-def]
    from service.app import SECURITY_HEADERS

    r = client.get(path)
    assert r.status_code == 200
    assert r.headers["content-security-policy"] == SECURITY_HEADERS["Content-Security-Policy"] == SERVICE_CSP


def test_docs_pages_are_not_in_the_schema(schema) -> None:  # type: ignore[no-untyped-def]
    assert not [p for p in schema["paths"] if p.startswith(("/docs", "/redoc"))]
