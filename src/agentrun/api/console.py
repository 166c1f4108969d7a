"""The web console: static ES modules and CSS served at ``/console`` by the API process itself.

The console is a client of the public ``/v1`` API like any other; it needs no route of its own
beyond the files. The page never receives secrets from the server: the API key the user types is
kept in the browser's sessionStorage and sent as a Bearer header by the page's own ``fetch``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

ASSETS = Path(__file__).resolve().parent.parent / "console"

# The console shows text written by models and tools; a strict policy makes an escaping slip
# harmless: no inline script, no third-party origin, no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def mount_console(app: FastAPI) -> None:
    """Serve the console page at ``/console/`` and its assets under ``/console/static/``."""
    index = ASSETS / "index.html"

    @app.get("/console", include_in_schema=False)
    async def console_redirect() -> RedirectResponse:
        return RedirectResponse("/console/", status_code=307)

    @app.get("/console/", include_in_schema=False)
    async def console_page() -> FileResponse:
        return FileResponse(index, media_type="text/html", headers=PAGE_HEADERS)

    # Assets are revalidated on every load (no-cache via ETag), so an upgrade never mixes old and
    # new modules; they are small and served locally.
    app.mount("/console/static", _NoCacheStatic(directory=ASSETS / "static"), name="console-static")


class _NoCacheStatic(StaticFiles):
    def file_response(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response
