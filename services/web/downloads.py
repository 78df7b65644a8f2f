"""A file from the API passed on to the browser: as a download, never shown inline."""

from collections.abc import AsyncIterator

import httpx
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask


def passed_on(answer: httpx.Response, content: AsyncIterator[bytes]) -> StreamingResponse:
    """The API's file answer, streamed: its name and length kept, sandboxed, the API's
    answer closed once the file is sent."""
    headers = {
        name: answer.headers[name]
        for name in ("Content-Disposition", "Content-Length")
        if name in answer.headers
    }
    headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return StreamingResponse(
        content,
        media_type=answer.headers.get("Content-Type", "application/octet-stream"),
        headers=headers,
        background=BackgroundTask(answer.aclose),
    )
