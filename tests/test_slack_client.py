"""The one Web API client factory: retries, and posts paced per channel as Slack asks."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from bot.blocks import Block
from bot.emulator import ALICE, GENERAL, Channel, SlackEmulator
from bot.replies import tell_privately
from bot.slack_client import create_web_client, message_permalink, workspace_url
from tests.tcp_proxy import TcpProxy


def notice_blocks(text: str) -> list[Block]:
    return [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]


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


def test_calls_reuse_one_connection_and_survive_slack_closing_it(emulator: SlackEmulator) -> None:
    with TcpProxy("127.0.0.1", emulator.port) as proxy:
        client = create_web_client(emulator.bot_token, f"http://127.0.0.1:{proxy.port}/api/")
        for _ in range(5):
            assert client.auth_test()["ok"]
        assert proxy.connections == 1, "kept open between calls"
        proxy.cut()  # Slack's side closes the idle connection
        proxy.restore()
        assert client.auth_test()["ok"], "sent again on a new connection; the caller never knows"
        assert proxy.connections == 2
    assert len(emulator.calls_to("auth.test")) == 6


def test_private_answers_reuse_the_kept_connection(emulator: SlackEmulator) -> None:
    response_url = emulator.response_url(GENERAL, ALICE)
    with TcpProxy("127.0.0.1", emulator.port) as proxy:
        proxied = response_url.replace(f":{emulator.port}/", f":{proxy.port}/")
        for number in range(3):
            tell_privately(proxied, notice_blocks(f"answer {number}"))
        assert proxy.connections == 1, "one connection for the three answers"
    assert [r["text"] for r in emulator.responses] == ["answer 0", "answer 1", "answer 2"]
    assert all(r["response_type"] == "ephemeral" for r in emulator.responses)


def test_permalinks_are_built_as_slack_builds_them(emulator: SlackEmulator) -> None:
    client = create_web_client(emulator.bot_token, emulator.api_url)
    parent = client.chat_postMessage(channel=GENERAL, text="a question")["ts"]
    reply = client.chat_postMessage(channel=GENERAL, text="an answer", thread_ts=parent)["ts"]
    workspace_url(client)
    # Once per process and emulator address: an earlier test may have asked on this port.
    asked = len(emulator.calls_to("auth.test"))
    assert asked <= 1
    for ts, thread_ts in ((parent, None), (reply, parent)):
        expected = client.chat_getPermalink(channel=GENERAL, message_ts=ts)["permalink"]
        assert message_permalink(workspace_url(client), GENERAL, ts, thread_ts) == expected
    assert len(emulator.calls_to("auth.test")) == asked, "the workspace's URL is asked for once"
