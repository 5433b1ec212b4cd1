"""Sending Block Kit messages: posts, updates, and private answers through a response_url.

Every message carries its blocks and, for notifications and screen readers, their text.
"""

from __future__ import annotations

from slack_sdk import WebClient

from bot.blocks import Block, ephemeral, plain_text
from bot.slack_client import KeptWebhookClient

TIMEOUT_SECONDS = 10


def tell_privately(response_url: str, reply: list[Block]) -> None:
    KeptWebhookClient(response_url, timeout=TIMEOUT_SECONDS).send(**ephemeral(reply))


def post(
    client: WebClient, channel: str, message: list[Block], *, thread_ts: str | None = None
) -> str:
    """Post in a channel or DM (in a thread when given); returns the new message's ts."""
    response = client.chat_postMessage(
        channel=channel,
        thread_ts=thread_ts,
        text=plain_text(message),
        blocks=message,
        unfurl_links=False,
    )
    return str(response["ts"])


def update(client: WebClient, channel: str, ts: str, message: list[Block]) -> None:
    client.chat_update(channel=channel, ts=ts, text=plain_text(message), blocks=message)


def dm_channel(client: WebClient, user_id: str) -> str:
    """The bot's DM with someone (conversations.open: opened if need be)."""
    return str(client.conversations_open(users=user_id)["channel"]["id"])


def post_dm(client: WebClient, user_id: str, message: list[Block]) -> tuple[str, str]:
    """DM someone from the bot; returns the DM's channel and the message's ts."""
    channel = dm_channel(client, user_id)
    return channel, post(client, channel, message)
