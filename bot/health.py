"""Community health for managers: is participation spread or carried by a few, does knowledge
reach those who ask, and how fast do newcomers start to take part?

The figures cover the chosen ISO week and, for trends, the 8 weeks ending with it, in the
workspace's zone; contributions are the weekly summary's (bot.summary). The same privacy rule
applies: people are named only where nothing behind their entry comes from a channel the
summary must not quote; they are counted everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from slack_sdk import WebClient
from sqlmodel import Session

from bot.dates import zone
from bot.summary import (
    Week,
    hiding,
    inequality_dict,
    trend,
)
from storage import summary as store
from storage.summary import Count, Inequality, NewcomerRamp, OnlyAsker, OverloadedExpert, Window


@dataclass(frozen=True)
class Health:
    """Everything `/summary health` shows; `as_dict` is the documented JSON."""

    team_id: str
    channel_id: str | None
    week: Week
    timezone: str
    # From the first of the trend's weeks to the end of the chosen one, in UTC.
    since: datetime
    end: datetime
    weeks: list[Week]
    inequality: list[Inequality]
    tags_without_experts: list[Count]
    overloaded_experts: list[OverloadedExpert]
    # Counted but not named: something behind them is in a channel this summary must not quote.
    overloaded_unnamed: int
    only_askers: list[OnlyAsker]
    only_askers_unnamed: int
    newcomers: NewcomerRamp

    def as_dict(self) -> dict[str, Any]:
        return {
            "team_id": self.team_id,
            "channel_id": self.channel_id,
            "week": self.week.label,
            "timezone": self.timezone,
            "since": self.since.isoformat(),
            "end": self.end.isoformat(),
            "participation": [
                {"week": week.label, **inequality_dict(figures)}
                for week, figures in zip(self.weeks, self.inequality, strict=True)
            ],
            "knowledge_flow": {
                "tags_without_experts": [
                    {"tag": c.key, "questions": c.count} for c in self.tags_without_experts
                ],
                "overloaded_experts": [
                    {"user_id": e.user_id, "routed": e.routed, "peer_mean": round(e.peer_mean, 2)}
                    for e in self.overloaded_experts
                ],
                "overloaded_experts_unnamed": self.overloaded_unnamed,
                "only_askers": [
                    {"user_id": a.user_id, "questions": a.questions} for a in self.only_askers
                ],
                "only_askers_unnamed": self.only_askers_unnamed,
            },
            "newcomers": {
                "joined": self.newcomers.joined,
                "ramped": self.newcomers.ramped,
                "not_yet": self.newcomers.not_yet,
                "median_seconds_to_first_contribution": self.newcomers.median_seconds,
                "p90_seconds_to_first_contribution": self.newcomers.p90_seconds,
            },
        }


class _InChannels(Protocol):
    @property
    def channels(self) -> frozenset[str]: ...


P = TypeVar("P", bound=_InChannels)


def _named(people: list[P], hidden: Callable[[set[str]], set[str]]) -> tuple[list[P], int]:
    """The people who may be named, and how many may only be counted."""
    secret = hidden(set().union(*(person.channels for person in people)))
    named = [person for person in people if not person.channels & secret]
    return named, len(people) - len(named)


def assess(
    team_id: str,
    channel_id: str | None,
    week: Week,
    zone_name: str,
    *,
    session: Session,
    client: WebClient | None,
    shown_in: str | None = None,
) -> Health:
    """The community health of a workspace (channel_id None) or one channel, for a week.

    `shown_in` is the channel it will be shown in; without a Slack client every channel counts
    as private, so nobody is named.
    """
    weeks, boundaries = trend(week, zone_name)
    start, end = week.bounds(zone(zone_name))
    this_week = Window(team_id, channel_id, start, end)
    eight_weeks = Window(team_id, channel_id, boundaries[0], end)
    hidden = hiding(team_id, channel_id, shown_in, session=session, client=client)
    overloaded, overloaded_unnamed = _named(
        store.overloaded_experts(this_week, session=session), hidden
    )
    askers, askers_unnamed = _named(store.only_askers(eight_weeks, session=session), hidden)
    health = Health(
        team_id=team_id,
        channel_id=channel_id,
        week=week,
        timezone=zone_name,
        since=boundaries[0],
        end=end,
        weeks=weeks,
        inequality=store.contribution_inequality(team_id, channel_id, boundaries, session=session),
        tags_without_experts=store.tags_without_experts(this_week, session=session),
        overloaded_experts=overloaded,
        overloaded_unnamed=overloaded_unnamed,
        only_askers=askers,
        only_askers_unnamed=askers_unnamed,
        newcomers=store.newcomer_ramp(eight_weeks, session=session),
    )
    session.commit()  # what Slack said about channels' privacy
    return health
