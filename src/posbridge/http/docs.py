"""``/docs``: the API's documentation page, from ``/openapi.json``, with no CDN.

Swagger UI's bundle ships inside the package (``swagger_ui/``), so the page works on a
cashier PC with no internet connection. The page and its assets are public (no token: they
hold no payment data) and carry a Content-Security-Policy that lets them load nothing from
anywhere but the bridge itself.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

SWAGGER_UI_VERSION = "5.35.0"

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>posbridge API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="api"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"""

#: Only the bridge itself: scripts and styles from /docs, the spec from /openapi.json
#: (and "Try it out" requests to the API). Swagger UI sets inline styles and data: images.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'")

_ASSETS = {
    "/docs/swagger-ui-bundle.js": ("swagger-ui-bundle.js", "text/javascript"),
    "/docs/swagger-ui.css": ("swagger-ui.css", "text/css"),
    "/docs/init.js": ("init.js", "text/javascript"),
}
PATHS = frozenset({"/docs", *_ASSETS})


#: The bundle ships inside the package, beside this module (hatchling puts every file of
#: src/posbridge in the wheel).
FOLDER = Path(__file__).with_name("swagger_ui")


def routes() -> list[Route]:
    """The page and its assets. Each asset is streamed from the package's files when asked
    for (Starlette's FileResponse, in a worker thread, with ETag and Last-Modified): the
    1.9 MB of Swagger UI is not read at start, nor held in memory by a bridge whose docs
    nobody opens."""
    # Vary: Origin because an allowed origin's fetch of the same URL gets CORS headers that
    # a cached copy from a plain request would lack.
    headers = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
               "Vary": "Origin"}

    async def page(request: Request) -> Response:
        return Response(PAGE, media_type="text/html", headers=headers)

    def asset(name: str, media_type: str) -> Route:
        path = FOLDER / name

        async def serve(request: Request) -> Response:
            return FileResponse(path, media_type=media_type,
                                headers={**headers, "Cache-Control": "max-age=86400"})

        return Route(f"/docs/{name}", serve, methods=["GET"])

    return [Route("/docs", page, methods=["GET"]),
            *(asset(name, media) for name, media in _ASSETS.values())]
