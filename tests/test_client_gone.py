"""A request whose client went away stops its work at the next await; an answered one, and
one whose client stays, run to the end."""

import anyio
import pytest
from starlette.types import Message, Receive, Scope, Send

from services.client_gone import StopWhenClientGone

pytestmark = pytest.mark.anyio


class Route:
    """Reads the body, then works in two steps of `step` seconds each."""

    def __init__(self, step: float) -> None:
        self.step = step
        self.steps_done = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        while (await receive()).get("more_body", False):
            pass
        for _ in range(2):
            await anyio.sleep(self.step)
            self.steps_done += 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})


async def serve(route: Route, *, gone_after: float | None) -> list[Message]:
    """One POST through the middleware; the client hangs up `gone_after` seconds in."""
    sent: list[Message] = []
    disconnect = anyio.Event()
    messages = [{"type": "http.request", "body": b"{}", "more_body": False}]

    async def receive() -> Message:
        if messages:
            return messages.pop(0)
        await disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    async def hang_up() -> None:
        if gone_after is not None:
            await anyio.sleep(gone_after)
            disconnect.set()

    scope: Scope = {"type": "http", "method": "POST", "path": "/x", "headers": []}
    async with anyio.create_task_group() as group:
        group.start_soon(hang_up)
        await StopWhenClientGone(route)(scope, receive, send)
        group.cancel_scope.cancel()
    return sent


async def test_a_gone_client_s_request_stops_at_its_next_await() -> None:
    route = Route(step=0.3)
    sent = await serve(route, gone_after=0.1)
    assert route.steps_done == 0 and sent == []


async def test_a_staying_client_gets_its_answer() -> None:
    route = Route(step=0.05)
    sent = await serve(route, gone_after=None)
    assert route.steps_done == 2 and sent[-1]["body"] == b"done"


async def test_an_error_of_the_route_passes_through_as_it_was_raised() -> None:
    class Broken(Route):
        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            await receive()
            raise RuntimeError("the route's own error")

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_: Message) -> None:
        pass

    scope: Scope = {"type": "http", "method": "POST", "path": "/x", "headers": []}
    with pytest.raises(RuntimeError, match="the route's own error"):
        await StopWhenClientGone(Broken(step=0))(scope, receive, send)
