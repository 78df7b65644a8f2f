"""A request whose client has gone stops consuming: its work is cancelled at the next await.

Once the route has read the request's body (the commands and uploads: the requests that
wait longest), a watcher waits for the server's `http.disconnect`; if it
comes before the answer is sent, the route's task is cancelled there (a database step in a
worker thread finishes, and nothing after it runs). What a command sent on is settled by the
workflow, as for any caller that stopped waiting: its deadline makes the answer definitive.
"""

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class StopWhenClientGone:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_read = anyio.Event()
        answered = False

        async def receive_body() -> Message:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_read.set()
            return message

        async def send_answer(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = True
            await send(message)

        failed: Exception | None = None
        async with anyio.create_task_group() as group:

            async def watch() -> None:
                await body_read.wait()
                message = await receive()
                if message["type"] == "http.disconnect" and not answered:
                    group.cancel_scope.cancel()

            group.start_soon(watch)
            try:
                await self.app(scope, receive_body, send_answer)
            except Exception as err:  # raised as it is, not wrapped in the group's
                failed = err
            group.cancel_scope.cancel()
        if failed is not None:
            raise failed
