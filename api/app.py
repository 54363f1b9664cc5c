"""The FastAPI application: REST under ``/api/v1``, health and metrics at the root, the dashboard at ``/``.

>>> from api.testing import memory_context
>>> app = create_app(memory_context())
>>> sorted(p for p in app.openapi()["paths"] if not p.startswith("/api"))
['/healthz', '/metrics', '/readyz']
"""

from __future__ import annotations

from html import escape
import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware

from api.context import AppContext
from api.errors import install_error_handlers
from api.jsonout import JSONText
from api.metrics import ApiMetrics
from api.routes import api_router
from api.routes.health import router as health_router
from api.security import BodyLimit, SecurityHeaders, complaint_body_bytes, docs_csp
from api.stream_limits import StreamSlots

__all__ = ["API_PREFIX", "create_app"]

log = logging.getLogger(__name__)
API_PREFIX = "/api/v1"
STATIC = Path(__file__).parent / "static"


def create_app(context: AppContext) -> FastAPI:
    """Build the application around ``context`` (see :class:`api.context.AppContext`)."""
    from foreshock import __version__

    app = FastAPI(
        title="Foreshock API",
        version=__version__,
        description="Units, telemetry, spectra, health, alerts and quality tickets. "
        "Authenticate with `Authorization: Bearer <token>` (tokens: `foreshock token create`).",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # served below from our own copy of Swagger UI
        redoc_url=None,
        # every JSON answer: a lone surrogate in a stored row is sent as U+FFFD, not a failed answer (api/jsonout.py)
        default_response_class=JSONText,
    )
    app.state.context = context
    app.state.api_metrics = ApiMetrics()
    app.state.event_streams = StreamSlots(per_token=context.settings.api.max_event_streams_per_token,
                                          total=context.settings.api.max_event_streams)
    # innermost: its 413 for a body that grows too large while read reaches the error handlers as it is
    limits = context.settings.api  # api.max_body_bytes, api.max_import_body_bytes, api.max_complaint_body_bytes
    app.add_middleware(BodyLimit, default=limits.max_body_bytes, paths={
        f"{API_PREFIX}/complaints": lambda: complaint_body_bytes(_alert_config(context),
                                                                 floor=limits.max_complaint_body_bytes),
        f"{API_PREFIX}/units/import": limits.max_import_body_bytes})
    install_error_handlers(app)
    app.include_router(health_router)
    app.include_router(api_router(), prefix=API_PREFIX)
    # Also answer /openapi.json at the root, where tools look first.
    app.add_api_route("/openapi.json", lambda: app.openapi(), include_in_schema=False)

    @app.middleware("http")
    async def _count(request: Request, call_next):
        response = await call_next(request)
        route = request.scope.get("route")
        app.state.api_metrics.count(request.method, getattr(route, "path", "unmatched"), response.status_code)
        return response

    app.add_middleware(SecurityHeaders)
    app.add_middleware(GzipExceptStreams, minimum_size=1024)  # outermost: what a slow plant link carries
    if STATIC.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC), name="static")

        @app.get("/favicon.ico", include_in_schema=False)
        def favicon() -> FileResponse:
            return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

        @app.get("/", include_in_schema=False)
        def index() -> RedirectResponse:
            return RedirectResponse("/ui/")

        _add_docs(app)

        pages = {p.stem for p in (STATIC / "pages").glob("*.html")}

        @app.get("/ui/{page:path}", include_in_schema=False)
        def ui(page: str) -> Response:
            name = page.strip("/").split("/")[0] or "index"
            if name not in pages:  # a typo served the Fleet page, as if the page asked for were the fleet
                return _no_such_page(f"/ui/{page}")
            return FileResponse(STATIC / "pages" / f"{name}.html")

    return app


class GzipExceptStreams:
    """Starlette's gzip for every response a client accepts it for (over a plant's slow link the unit page's
    chart library shrinks from 145 to 42 kB), except the live-update stream: a compressor holds back
    the small events it would have to flush, and not every Starlette version leaves ``text/event-stream``
    out by itself."""

    def __init__(self, app, minimum_size: int = 1024) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=minimum_size)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(f"{API_PREFIX}/events"):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def _add_docs(app: FastAPI) -> None:
    """``/docs``: Swagger UI from ``static/vendor/swagger-ui`` (a plant network often has no way out to a CDN),
    under a policy that allows this server and the page's own inline script only."""
    vendor = "/static/vendor/swagger-ui"
    redirect = "/docs/oauth2-redirect"
    assert app.openapi_url is not None
    pages = {
        "/docs": get_swagger_ui_html(
            openapi_url=app.openapi_url, title=f"{app.title} - Swagger UI", oauth2_redirect_url=redirect,
            swagger_js_url=f"{vendor}/swagger-ui-bundle.js", swagger_css_url=f"{vendor}/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg").body.decode(),
        redirect: get_swagger_ui_oauth2_redirect_html().body.decode(),
    }
    for path, html in pages.items():
        app.add_api_route(path, _page(html), include_in_schema=False)


_NO_SUCH_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Foreshock · Page not found</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/css/app.css">
</head>
<body>
<main id="main">
<h1>Page not found</h1>
<p>There is no page {path}: the page does not exist.</p>
<p><a href="/ui/">Go to the Fleet page</a></p>
</main>
</body>
</html>
"""


def _no_such_page(path: str) -> HTMLResponse:
    """The dashboard's 404: names the path asked for (as text) and links to the Fleet page."""
    return HTMLResponse(_NO_SUCH_PAGE.replace("{path}", escape(path)), status_code=404)


def _page(html: str):
    """An endpoint (taking no parameters) that answers ``html`` with the policy its inline scripts need."""
    headers = {"Content-Security-Policy": docs_csp(html)}

    def page() -> HTMLResponse:
        return HTMLResponse(html, headers=headers)

    return page


def _alert_config(context: AppContext):
    """The running alert service's configuration (the defaults when this process has none)."""
    if context.alerts is not None:
        return context.alerts.config
    from alerts.config import AlertConfig

    return AlertConfig()
