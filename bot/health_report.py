"""Community health as lines of text for Slack and Markdown alike (see bot/summary_report.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, TypeVar

from bot.summary_report import MARKDOWN, Section, Style, document, duration, plural, shares
from prompts import render

if TYPE_CHECKING:
    from bot.health import Health

# Slack sections stay readable: the rest of a list is counted, not listed.
LISTED = 10
T = TypeVar("T")


def title(health: Health, style: Style) -> str:
    scope = style.channel(health.channel_id) if health.channel_id else render("summary_workspace")
    return render("health_title", scope=scope, week=health.week.label)


def period(health: Health) -> str:
    return render(
        "health_period",
        start=health.weeks[0].monday.strftime("%a %d %b %Y"),
        end=(health.week.monday + timedelta(days=6)).strftime("%a %d %b %Y"),
        timezone=health.timezone,
    )


def _listed(items: Sequence[T], shown: Callable[[T], str], unnamed: int = 0) -> str:
    """Up to LISTED items; the others (and the unnamed, in private channels) as counts."""
    words = [shown(item) for item in items[:LISTED]]
    if len(items) > LISTED:
        words.append(render("health_more", count=len(items) - LISTED))
    if unnamed:
        words.append(render("health_unnamed", count=unnamed))
    return ", ".join(words) or render("summary_nothing")


def sections(health: Health, style: Style) -> list[Section]:
    participation = [
        render(
            "health_week_shares",
            week=week.label,
            shares=shares(figures),
            people=" / ".join(str(group.people) for group in figures.groups),
        )
        if figures.groups
        else render("health_week_empty", week=week.label)
        for week, figures in zip(health.weeks, health.inequality, strict=True)
    ]
    flow = [
        render(
            "health_tags_without_experts",
            tags=_listed(
                health.tags_without_experts, lambda c: f"#{c.key} ({plural(c.count, 'question')})"
            ),
        ),
        render(
            "health_overloaded",
            experts=_listed(
                health.overloaded_experts,
                lambda e: render(
                    "health_overloaded_expert",
                    expert=style.user(e.user_id),
                    routed=plural(e.routed, "question"),
                    mean=f"{e.peer_mean:.1f}",
                ),
                health.overloaded_unnamed,
            ),
        ),
        render(
            "health_only_askers",
            people=_listed(
                health.only_askers,
                lambda a: f"{style.user(a.user_id)} ({plural(a.questions, 'question')})",
                health.only_askers_unnamed,
            ),
        ),
    ]
    ramp = health.newcomers
    newcomers = [
        render("health_newcomers_none")
        if ramp.joined == 0
        else render("health_newcomers_waiting", joined=plural(ramp.joined, "newcomer"))
        if ramp.ramped == 0
        else render(
            "health_newcomers",
            joined=plural(ramp.joined, "newcomer"),
            ramped=ramp.ramped,
            median=duration(ramp.median_seconds) or render("summary_unknown"),
            p90=duration(ramp.p90_seconds) or render("summary_unknown"),
            not_yet=ramp.not_yet,
        )
    ]
    return [
        Section(render("health_section_participation"), participation),
        Section(render("health_section_flow"), flow),
        Section(render("health_section_newcomers"), newcomers),
    ]


def markdown(health: Health) -> str:
    return document(title(health, MARKDOWN), period(health), sections(health, MARKDOWN))
