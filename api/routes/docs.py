"""`/docs`: Swagger UI 5 (reads OpenAPI 3.1) from the copy vendored in api/static/vendor/swagger-ui, offline.

The page is our own template (api/templates/docs.html) and the UI is started by /static/docs.js, so the page
keeps the same no-inline-script CSP as the other pages. Versions and checksums of the vendored files are in
api/static/vendor/README.md.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.templating import PAGE_HEADERS, templates

router = APIRouter(include_in_schema=False)

# Swagger UI draws with inline style attributes and fetches the schema (and "Try it out" calls) from here
DOCS_HEADERS = {
    **PAGE_HEADERS,
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self' 'unsafe-inline'; script-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "docs.html", {"openapi_url": "/openapi.json"}, headers=DOCS_HEADERS)
