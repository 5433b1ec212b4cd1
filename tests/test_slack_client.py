"""The one Web API client factory: retries, and posts paced per channel as Slack asks."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from bot.emulator import Channel, SlackEmulator
from bot.slack_client import create_web_client


def test_posts_to_one_channel_are_paced_and_other_channels_are_not_held_up(
    emulator: SlackEmulator,
) -> None:
    channels = ["C0PACEA", "C0PACEB"]
    for channel in channels:
        emulator.add_channel(
            Channel(channel, channel.lower(), members=frozenset({emulator.bot_user_id}))
        )
    client = create_web_client(emulator.bot_token, emulator.api_url)

    def post_five(channel: str) -> float:
        started = time.monotonic()
        for number in range(5):
            client.chat_postMessage(channel=channel, text=f"digest part {number}")
        return time.monotonic() - started

    started = time.monotonic()
    with ThreadPoolExecutor(2) as pool:
        each = list(pool.map(post_five, channels))
    together = time.monotonic() - started
    # A burst of 3 goes at once, then one a second: the 4th and 5th wait about 1 s each.
    assert all(1.9 <= spent < 3.5 for spent in each), each
    assert together < 3.5, "the two channels were paced side by side, not one after the other"
    assert all(len(emulator.messages(channel)) == 5 for channel in channels)
