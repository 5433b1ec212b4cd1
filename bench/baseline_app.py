"""The physical limit LearnLoop is measured against: a bare Bolt AsyncApp (one no-op event
listener, one no-op command) on exactly the server stack and settings of `learnloop serve`."""

from __future__ import annotations

import os

import uvicorn
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.serve import server_config
from bot.server import EVENTS_PATH
from bot.slack_client import create_async_web_client


def build() -> Starlette:
    app = AsyncApp(
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        client=create_async_web_client(os.environ["SLACK_BOT_TOKEN"], os.environ["SLACK_API_URL"]),
        process_before_response=True,
    )

    async def noop_event(ack: AsyncAck) -> None:
        await ack()

    async def noop_command(ack: AsyncAck) -> None:
        await ack()

    app.event("message")(noop_event)
    app.command("/til")(noop_command)
    handler = AsyncSlackRequestHandler(app)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    return Starlette(routes=[Route(EVENTS_PATH, events, methods=["POST"])])


if __name__ == "__main__":
    uvicorn.Server(server_config(build(), "127.0.0.1", int(os.environ["PORT"]))).run()
