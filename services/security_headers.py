"""Headers every answer of both services carries, set deliberately in one place."""

from collections.abc import Mapping

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# On every answer, unless a route set its own: JSON is never sniffed as HTML, never framed,
# never cached (answers carry tickets and tokens), and no URL leaks through a Referer.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class AddHeaders:
    """Adds `headers` to every HTTP answer that has not set its own."""

    def __init__(self, app: ASGIApp, headers: Mapping[str, str]) -> None:
        self.app = app
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers if scope["type"] == "http" else send)


class SecurityHeaders(AddHeaders):
    """Adds SECURITY_HEADERS to every HTTP answer that passes through it."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app, SECURITY_HEADERS)
