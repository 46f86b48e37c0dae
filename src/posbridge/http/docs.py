"""``/docs``: the API's documentation page, from ``/openapi.json``, with no CDN.

Swagger UI's bundle ships inside the package (``swagger_ui/``), so the page works on a
cashier PC with no internet connection. The page and its assets are public (no token: they
hold no payment data) and carry a Content-Security-Policy that lets them load nothing from
anywhere but the bridge itself.
"""

from __future__ import annotations

from importlib import resources

from starlette.requests import Request
from starlette.responses import Response
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


def routes() -> list[Route]:
    folder = resources.files("posbridge.http") / "swagger_ui"
    # Vary: Origin because an allowed origin's fetch of the same URL gets CORS headers that
    # a cached copy from a plain request would lack.
    headers = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
               "Vary": "Origin"}

    async def page(request: Request) -> Response:
        return Response(PAGE, media_type="text/html", headers=headers)

    def asset(name: str, media_type: str) -> Route:
        body = (folder / name).read_bytes()

        async def serve(request: Request) -> Response:
            return Response(body, media_type=media_type,
                            headers={**headers, "Cache-Control": "max-age=86400"})

        return Route(f"/docs/{name}", serve, methods=["GET"])

    return [Route("/docs", page, methods=["GET"]),
            *(asset(name, media) for name, media in _ASSETS.values())]
