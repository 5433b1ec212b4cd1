"""/summary and /summary health for community managers, and the App Home tab for everyone."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from bot import blocks, summary
from bot.dates import WEEKDAYS, wall_clock
from bot.roles import NotAllowed
from bot.runtime import runtime_of
from bot.text import channel_reference
from handlers.payloads import command_text, slack_id
from prompts import render
from storage.models import SummarySubscription
from storage.types import utcnow

SUMMARY_COMMAND = "/summary"
HELP_WORDS = ("help", "?")


async def handle_summary_command(
    ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext
) -> None:
    words = command_text(command).split()
    action = words[0].lower() if words else ""
    try:
        reply = await _summary(action, words, command, context)
    except NotAllowed as refused:
        reply = blocks.notice("expert_not_allowed", needed=refused.needed)
    except summary.SummaryRequestError as problem:
        reply = blocks.notice("summary_error", error=str(problem))
    await ack(**blocks.ephemeral(reply))


async def _summary(
    action: str, words: list[str], command: dict[str, Any], context: AsyncBoltContext
) -> list[blocks.Block]:
    runtime = runtime_of(context)
    settings = runtime.settings
    team_id, user_id = str(context.team_id), command["user_id"]
    who: dict[str, Any] = {
        "token": context.bot_token,
        "team_id": team_id,
        "managers": settings.managers,
    }
    if action in HELP_WORDS:
        zone_name = await runtime.call(
            summary.workspace_zone, team_id=team_id, default=settings.timezone
        )
        return blocks.notice("summary_usage", timezone=zone_name)
    if action == "subscribe":
        subscription, zone_name = await runtime.call(
            summary.subscribe,
            **who,
            actor_id=user_id,
            request=summary.parse_subscription(words[1:]),
            now=utcnow(),
            default_zone=settings.timezone,
        )
        return blocks.notice("summary_subscribed", **_described(subscription, zone_name))
    if action == "unsubscribe":
        channel_id = channel_reference(words[1]) if len(words) == 2 else None
        if channel_id is None:
            raise summary.SummaryRequestError("say which channel: `/summary unsubscribe #channel`")
        removed = await runtime.call(
            summary.unsubscribe, **who, actor_id=user_id, channel_id=channel_id
        )
        return blocks.notice(
            "summary_unsubscribed" if removed else "summary_not_subscribed", channel_id=channel_id
        )
    if action == "subscriptions":
        found = await runtime.call(summary.subscriptions, team_id=team_id)
        zone_name = await runtime.call(
            summary.workspace_zone, team_id=team_id, default=settings.timezone
        )
        if not found:
            return blocks.notice("summary_subscriptions_none")
        return blocks.lines("summary_subscription_line", [_described(s, zone_name) for s in found])
    if action == "timezone":
        if len(words) != 2:
            raise summary.SummaryRequestError(
                "give one zone, e.g. `/summary timezone Europe/Berlin`"
            )
        try:
            zone_name = await runtime.call(
                summary.set_workspace_zone,
                **who,
                actor_id=user_id,
                zone_name=words[1],
                now=utcnow(),
            )
        except ValueError as problem:
            raise summary.SummaryRequestError(str(problem)) from None
        return blocks.notice("summary_timezone_set", timezone=zone_name)
    wants_health = action == "health"
    request = summary.parse_request(
        " ".join(words[1:]) if wants_health else command_text(command), command["channel_id"]
    )
    week, zone_name = await runtime.call(
        summary.prepare_summary,
        **who,
        user_id=user_id,
        request=request,
        now=utcnow(),
        default_zone=settings.timezone,
    )
    runtime.spawn(
        summary.send_summary,
        token=context.bot_token,
        team_id=team_id,
        request=request,
        week=week,
        zone_name=zone_name,
        shown_in=command["channel_id"],
        response_url=command["response_url"],
        health=wants_health,
    )
    return blocks.notice("health_working" if wants_health else "summary_working", week=week.label)


def _described(subscription: SummarySubscription, zone_name: str) -> dict[str, str]:
    scope = subscription.scope_channel_id
    return {
        "channel_id": subscription.channel_id,
        "scope": f"<#{scope}>" if scope else render("summary_workspace"),
        "day": WEEKDAYS[subscription.weekday].capitalize(),
        "time": subscription.time_of_day,
        "timezone": zone_name,
        "next_run": wall_clock(subscription.next_run_at, zone_name),
    }


async def handle_app_home_opened(
    ack: AsyncAck, event: dict[str, Any], context: AsyncBoltContext
) -> None:
    """Publish the Home tab after the ack: the team's figures may take a moment."""
    user_id = slack_id(event.get("user"))
    if event.get("tab", "home") == "home" and user_id is not None:
        runtime = runtime_of(context)
        runtime.spawn(
            summary.publish_home,
            token=context.bot_token,
            team_id=str(context.team_id),
            user_id=user_id,
            now=utcnow(),
            default_zone=runtime.settings.timezone,
            managers=runtime.settings.managers,
        )
    await ack()


def register(app: AsyncApp) -> None:
    app.command(SUMMARY_COMMAND)(handle_summary_command)
    app.event("app_home_opened")(handle_app_home_opened)
