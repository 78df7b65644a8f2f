"""Refuse request bodies larger than a limit, by header and by the bytes actually sent (both
services)."""

from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# For a request that may be larger than the limit (a file upload): its own limit, else None.
Allowance = Callable[[Scope], int | None]


class BodyTooLarge(Exception):
    """A streamed body ran past its allowance while the app was reading it: answer 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body over {limit} bytes")
        self.limit = limit


class BodySizeLimit:
    """Pure ASGI middleware: the body is buffered up to the limit, never beyond it.

    A request `allowance` names (an upload) may be larger; it is not buffered but counted as the
    app reads it, and reading past its allowance raises `BodyTooLarge` in the app, whose error
    handler answers 413. Its files are spooled to disk by the form parser, not held here."""

    def __init__(self, app: ASGIApp, max_bytes: int, allowance: Allowance | None = None) -> None:
        self._app = app
        self._max_bytes = max_bytes
        self._allowance = allowance

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        larger = self._allowance(scope) if self._allowance else None
        limit = larger or self._max_bytes
        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > limit:
            await _too_large(scope, receive, send)
            return
        if larger is not None:
            await self._app(scope, _counted(receive, larger), send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            # A missing or understated Content-Length must not let a large body through.
            if size > self._max_bytes:
                await _too_large(scope, receive, send)
                return
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self._app(scope, replay, send)


def _counted(receive: Receive, limit: int) -> Receive:
    size = 0

    async def counted() -> Message:
        nonlocal size
        message = await receive()
        if message["type"] == "http.request":
            size += len(message.get("body", b""))
            # A missing or understated Content-Length must not let a large body through.
            if size > limit:
                raise BodyTooLarge(limit)
        return message

    return counted


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    response = JSONResponse({"detail": "request body too large"}, status_code=413)
    await response(scope, receive, send)
