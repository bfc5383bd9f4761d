"""API documentation that works offline: Swagger UI at ``/docs`` and ReDoc at ``/redoc``, served from the
``fastapi-offline`` package's files (never a CDN), and an OpenAPI schema that says who may call what.

The pages are our own small HTML with no inline script (Swagger UI is started by ``/docs-assets/swagger-init.js``;
ReDoc starts itself on its ``<redoc>`` element), so ``script-src 'self'`` holds on them too. Each page sends its
own Content-Security-Policy, which ``GuardMiddleware`` keeps (it only adds the headers a response lacks); the
relaxations the viewers need (ReDoc's inline styles and blob: search worker) stop at these two pages.
"""

from __future__ import annotations

from functools import cache
from html import escape
from importlib.resources import files
from typing import Any

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.staticfiles import StaticFiles

from service.deps import ROLES_OF
from service.schemas import ErrorBody

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
ASSETS_URL = "/docs-assets"
#: The installed package whose folder holds swagger-ui-bundle.js, swagger-ui.css, redoc.standalone.js, favicon.png
ASSETS_PACKAGE = ("fastapi_offline", "static")

_BASE_CSP = (
    "default-src 'self'; img-src 'self' data:; script-src 'self'; connect-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
#: Swagger UI runs under the service's own policy (``connect-src 'self'``: the schema and "Try it out").
SWAGGER_CSP = f"{_BASE_CSP}; style-src 'self'"
#: ReDoc writes its styles at run time (styled-components) and runs its search index in a blob: worker; without
#: either it does not render (tests/service/test_docs_browser.py shows the violations).
REDOC_CSP = f"{_BASE_CSP}; style-src 'self' 'unsafe-inline'; worker-src blob:"

SWAGGER_INIT_JS = """\
"use strict";
// Starts Swagger UI (no inline script: the page's CSP is script-src 'self'). The schema's URL is on the element.
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    persistAuthorization: false,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
});
"""

_SWAGGER_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - API documentation</title>
<link rel="icon" type="image/png" href="{assets}/favicon.png">
<link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/swagger-init.js"></script>
</body>
</html>
"""

_REDOC_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - API reference</title>
<link rel="icon" type="image/png" href="{assets}/favicon.png">
</head>
<body>
<redoc spec-url="{openapi}" hide-download-button></redoc>
<script src="{assets}/redoc.standalone.js"></script>
</body>
</html>
"""

#: The one address outside the service that ReDoc's bundle asks for: the Redocly logo in its side menu, with no
#: option to turn it off. The copy served here shows a blank image from ``data:`` instead (no request leaves).
REDOC_CDN_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
BLANK_SVG = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='1' height='1'/%3E"

#: Error bodies, by status, for the routes they apply to (a route's own description of one is kept).
AUTH_ERRORS = {
    "401": "Missing, malformed or unknown API key (`WWW-Authenticate: Bearer`)",
    "403": "This key's role may not call this route",
    "429": "Rate limit for this key exceeded (`Retry-After` says when to retry)",
    "503": "Unavailable (database or authentication store down, or overloaded): nothing was done; retry after "
    "`Retry-After`",
}
NOT_FOUND = "Not found (or not in your organisation)"
TOO_LARGE = "Body larger than the configured limit"


def _role_guards(dependant: Dependant) -> list[set[str]]:
    """The role sets of every ``require_roles`` guard in a route's dependency tree."""
    guards = [set(ROLES_OF[dependant.call])] if dependant.call in ROLES_OF else []
    for sub in dependant.dependencies:
        guards += _role_guards(sub)
    return guards


def _roles(dependant: Dependant) -> set[str]:
    """Who may call the route: every guard must admit the role (none: a public route)."""
    guards = _role_guards(dependant)
    return set.intersection(*guards) if guards else set()


def _error_content() -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}


def _document_operation(op: dict[str, Any], path: str, roles: set[str], validation_model: bool) -> None:
    responses: dict[str, Any] = op.setdefault("responses", {})
    if roles:
        listed = ", ".join(f"`{r}`" for r in sorted(roles))
        op["description"] = f"{op.get('description', '').rstrip()}\n\n**Allowed roles:** {listed}".lstrip()
        op["x-allowed-roles"] = sorted(roles)
        for code, text in AUTH_ERRORS.items():
            responses.setdefault(code, {"description": text})
    if "{" in path:
        responses.setdefault("404", {"description": NOT_FOUND})
    if "requestBody" in op:
        responses.setdefault("413", {"description": TOO_LARGE})
    for code, response in responses.items():
        if "content" in response or not code.startswith(("4", "5")):
            continue
        if code == "422" and validation_model:  # a list from validation, or a route's own sentence
            ref = {"$ref": "#/components/schemas/HTTPValidationError"}
            response["content"] = {"application/json": {"schema": ref}}
        else:
            response["content"] = _error_content()


def document_access(app: FastAPI, schema: dict[str, Any]) -> None:
    """Each operation's allowed roles (description and ``x-allowed-roles``) and its error bodies."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault(
        "ErrorBody", ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    )
    validation_model = "HTTPValidationError" in components
    # Route contexts, as FastAPI's own schema builder walks them: included routers with their prefixes and
    # router-level dependencies.
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        path = route.path_format or ""
        operations = schema.get("paths", {}).get(path, {})
        for method in route.methods or ():
            op = operations.get(method.lower())
            if op is not None:
                _document_operation(op, path, _roles(route.dependant), validation_model)


def _enrich_schema(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document_access(app, generate())
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


@cache
def redoc_js() -> bytes:
    """ReDoc's standalone bundle from the package, with its logo read from ``data:`` instead of a CDN."""
    package, folder = ASSETS_PACKAGE
    bundle = (files(package) / folder / "redoc.standalone.js").read_text(encoding="utf-8")
    return bundle.replace(REDOC_CDN_LOGO, BLANK_SVG).encode()


def _page(template: str, request: Request, app: FastAPI, csp: str) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    html = template.format(
        title=escape(app.title),
        assets=escape(f"{root}{ASSETS_URL}"),
        openapi=escape(f"{root}{app.openapi_url}"),
    )
    return HTMLResponse(html, headers={"Content-Security-Policy": csp})


def install_docs(app: FastAPI) -> None:
    """Swagger UI at ``/docs``, ReDoc at ``/redoc``, their files under ``/docs-assets/``, and the schema's
    roles and error bodies. Build the app with ``docs_url=None, redoc_url=None`` (FastAPI's pages use a CDN)."""
    _enrich_schema(app)

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        return _page(_SWAGGER_PAGE, request, app, SWAGGER_CSP)

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        return _page(_REDOC_PAGE, request, app, REDOC_CSP)

    # Registered before the mount below, so these two paths are ours and every other one under it the package's.
    @app.get(f"{ASSETS_URL}/swagger-init.js", include_in_schema=False)
    async def swagger_init() -> Response:
        return Response(SWAGGER_INIT_JS, media_type="text/javascript")

    @app.get(f"{ASSETS_URL}/redoc.standalone.js", include_in_schema=False)
    async def redoc_bundle() -> Response:
        return Response(redoc_js(), media_type="text/javascript")

    app.mount(ASSETS_URL, StaticFiles(packages=[ASSETS_PACKAGE]), name="docs-assets")
