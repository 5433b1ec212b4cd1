"""Private answers that arrive after the ack, through a command's response_url."""

from __future__ import annotations

from slack_sdk.webhook import WebhookClient

from bot.blocks import Block, plain_text

TIMEOUT_SECONDS = 10


def tell_privately(response_url: str, reply: list[Block]) -> None:
    WebhookClient(response_url, timeout=TIMEOUT_SECONDS).send(
        text=plain_text(reply), blocks=reply, response_type="ephemeral"
    )
