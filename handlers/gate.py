"""What the HTTP gate (bot.server) answers without Bolt: channel posts (chatter, keyword TILs),
/til with a TIL and /ask with a question, most of a busy workspace's requests. For these,
Bolt's dispatch cost more than everything LearnLoop does with them; the gate hands them to the
same services with the same answer, once Bolt has let the workspace in (Runtime.authorized).
Anything else, and anything unexpected, is left to Bolt."""

from __future__ import annotations

from typing import Any

from bot.blocks import Reply
from bot.runtime import Runtime
from handlers import events, help_requests, til
from handlers.payloads import command_text, is_command_form

_COMMANDS = {
    til.TIL_COMMAND: til.take_command,
    help_requests.ASK_COMMAND: help_requests.take_command,
}


async def take(payload: dict[str, Any], runtime: Runtime) -> Reply | None:
    """The ack's body for a request the gate answered ({} for an empty one), or None for Bolt
    to take the request."""
    if payload.get("type") == "event_callback":
        return {} if await events.take_channel_post(payload, runtime) else None
    take_command = _COMMANDS.get(payload.get("command"))  # type: ignore[arg-type]
    team_id = payload.get("team_id")
    if take_command is None or team_id not in runtime.authorized or not is_command_form(payload):
        return None
    return await take_command(payload, team_id, command_text(payload).strip(), runtime)
