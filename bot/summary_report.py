"""A summary as lines of text (for Slack and Markdown alike), CSV and a PNG chart.

The lines are written once; a `Style` says how bold, links and mentions look in each format.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from bot.text import without_markup
from prompts import render
from storage.summary import Count, Inequality

if TYPE_CHECKING:
    from bot.summary import Summary

CLIP = 150


@dataclass(frozen=True)
class Style:
    bold: Callable[[str], str]
    link: Callable[[str, str | None], str]
    user: Callable[[str], str]
    channel: Callable[[str], str]
    # Turns Slack text (entities escaped, markup removed) into this format's text.
    escape: Callable[[str], str]


def _markdown_escape(slack_text: str) -> str:
    text = html.unescape(slack_text)
    return "".join("\\" + c if c in "\\`*_[]<>#|" else c for c in text)


MARKDOWN = Style(
    bold=lambda text: f"**{text}**",
    link=lambda text, url: f"[{text}]({url})" if url else text,
    user=lambda user_id: f"@{user_id}",
    channel=lambda channel_id: f"#{channel_id}",
    escape=_markdown_escape,
)


@dataclass(frozen=True)
class Section:
    title: str
    lines: list[str]


def title(summary: Summary, style: Style) -> str:
    scope = style.channel(summary.channel_id) if summary.channel_id else render("summary_workspace")
    return render("summary_title", scope=scope, week=summary.week.label)


def period(summary: Summary) -> str:
    last_day = summary.week.monday + timedelta(days=6)
    return render(
        "summary_period",
        start=summary.week.monday.strftime("%a %d %b %Y"),
        end=last_day.strftime("%a %d %b %Y"),
        timezone=summary.timezone,
    )


def sections(summary: Summary, style: Style) -> list[Section]:
    def people(counts: list[Count]) -> str:
        return ", ".join(f"{style.user(c.key)} ({c.count})" for c in counts) or nothing

    def quote(text: str) -> str:
        flat = without_markup(text)
        return style.escape(flat if len(flat) <= CLIP else flat[: CLIP - 1] + "…")

    nothing = render("summary_nothing")
    unknown = render("summary_unknown")
    change = summary.tils - summary.tils_previous_week
    learned = [
        render("summary_tils", tils=plural(summary.tils, "TIL"), change=f"{change:+d}"),
        render(
            "summary_top_tags",
            tags=", ".join(f"#{c.key} ({c.count})" for c in summary.top_tags) or nothing,
        ),
        render("summary_top_contributors", people=people(summary.top_contributors)),
    ]
    learned += [
        render(
            "summary_highlight",
            reactions=plural(til.reactions, "reaction"),
            text=style.link(quote(til.text), til.permalink),
            author=style.user(til.author_id),
        )
        for til in summary.highlights
    ]
    help_lines = [
        render(
            "summary_help_counts",
            asked=summary.help.asked,
            answered=summary.help.answered,
            resolved=summary.help.resolved,
            still_open=summary.help.still_open,
        ),
        render(
            "summary_answer_times",
            median=duration(summary.median_answer_seconds) or unknown,
            p90=duration(summary.p90_answer_seconds) or unknown,
        ),
    ]
    help_lines += [
        render(
            "summary_oldest_open",
            date=question.created_at.strftime("%d %b"),
            text=style.link(quote(question.text), question.permalink),
            asker=style.user(question.asker_id),
        )
        for question in summary.oldest_open
    ]
    help_lines += [
        render(
            "summary_gaps",
            gaps=", ".join(f"#{g.tag} ({g.unanswered}/{g.asked})" for g in summary.knowledge_gaps)
            or nothing,
        ),
        render("summary_top_answerers", people=people(summary.top_answerers)),
    ]
    reflection = [
        render(
            "summary_reflection",
            prompts=plural(summary.reflection.prompts_sent, "prompt"),
            responses=plural(summary.reflection.responses, "response"),
            rate=percent(summary.response_rate) or unknown,
            share=percent(summary.reflection_share) or unknown,
        )
    ]
    participation = [
        render("summary_participation_unknown", active=len(summary.active_members))
        if summary.members is None
        else render(
            "summary_participation",
            active=len(summary.active_members),
            members=summary.members,
            share=percent(summary.active_share) or unknown,
        ),
        render(
            "summary_first_timers",
            people=", ".join(style.user(u) for u in summary.first_time_contributors) or nothing,
        ),
        render("summary_inequality", shares=shares(summary.inequality) or nothing),
    ]
    return [
        Section(render("summary_section_learned"), learned),
        Section(render("summary_section_help"), help_lines),
        Section(render("summary_section_reflection"), reflection),
        Section(render("summary_section_participation"), participation),
    ]


def plural(count: int, noun: str) -> str:
    """ "1 TIL", "2 TILs", "0 responses"."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def duration(seconds: float | None) -> str | None:
    """ "45m", "3h 05m", "2d 4h"; under a minute is "<1m"."""
    if seconds is None:
        return None
    minutes = int(seconds // 60)
    if minutes < 1:
        return "<1m"
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def percent(share: float | None) -> str | None:
    return None if share is None else f"{share * 100:.0f}%"


def shares(week: Inequality) -> str | None:
    """ "20.7% / 10.3% / 69.0%": the top 1%'s, the next 9%'s and the other 90%'s shares of a
    week's contributions; None for a week nobody contributed in."""
    return " / ".join(f"{group.share:.1f}%" for group in week.groups) or None


def markdown(summary: Summary) -> str:
    return document(title(summary, MARKDOWN), period(summary), sections(summary, MARKDOWN))


def document(heading: str, when: str, parts: list[Section]) -> str:
    """A report as Markdown: a title, its period, then each section as a list."""
    lines = [f"# {heading}", "", when]
    for section in parts:
        lines += ["", f"## {section.title}", ""] + [f"- {line}" for line in section.lines]
    return "\n".join(lines) + "\n"


class Figures(Protocol):
    def as_dict(self) -> dict[str, Any]: ...


def csv_text(figures: Figures) -> str:
    """One `metric,value` row per figure, lists numbered: `tils.top_tags.1.tag,python`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["metric", "value"])
    for key, value in _flatten(figures.as_dict(), ""):
        writer.writerow([key, "" if value is None else value])
    return buffer.getvalue()


def _flatten(value: Any, prefix: str) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [row for key, item in value.items() for row in _flatten(item, f"{prefix}{key}.")]
    if isinstance(value, list):
        return [
            row
            for number, item in enumerate(value, 1)
            for row in _flatten(item, f"{prefix}{number}.")
        ]
    return [(prefix.removesuffix("."), value)]


def chart_png(weeks: list[str], series: dict[str, list[int]], chart_title: str) -> bytes:
    """A line chart of each series over the weeks, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")  # no display: servers and CI
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4), dpi=100)
    axes = figure.add_subplot()
    for name, values in series.items():
        axes.plot(weeks, values, marker="o", label=name)
    axes.set_title(chart_title)
    axes.set_ylabel("per week")
    axes.legend(loc="upper left")
    axes.grid(alpha=0.3)
    axes.tick_params(axis="x", labelrotation=30)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
