"""Weekly learning summaries: what the team learned, where help is stuck, who takes part.

Weeks are ISO weeks (Monday to Sunday) in the workspace's zone. The figures come from
aggregate queries (storage.summary); Slack is asked only for what the database cannot know:
how many people a channel or the workspace has, and whether a channel is private.

Privacy: a private channel's content is counted everywhere, but quoted or linked only in a
summary of that very channel shown in that channel.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from bot import blocks
from bot.dates import TIME_OF_DAY, weekday, zone
from bot.replies import post, tell_privately
from bot.roles import is_manager, require_manager
from bot.slack_client import ClientFor
from bot.text import channel_reference
from storage import summary as store
from storage import workspace_settings
from storage.models import SummarySubscription
from storage.summary import (
    Count,
    HelpCounts,
    Inequality,
    QuotedQuestion,
    QuotedTil,
    ReflectionCounts,
    TagGap,
    Window,
)
from storage.types import utcnow

if TYPE_CHECKING:
    from bot.health import Health

logger = logging.getLogger(__name__)

TOP = 5
HIGHLIGHTS = 3
OLDEST_OPEN = 3
CHART_WEEKS = 8
HOME_TILS = 5
# Slack's answer about a channel's privacy is trusted this long.
PRIVACY_TTL = timedelta(days=1)
_WEEK_LABEL = re.compile(r"^(\d{4})-?w(\d{1,2})$")
_SLACKBOT = "USLACKBOT"


class SummaryRequestError(ValueError):
    """The words of a /summary do not say which summary; the message says what is wrong."""


@dataclass(frozen=True, order=True)
class Week:
    """An ISO week: Monday to Sunday."""

    year: int
    number: int

    @classmethod
    def containing(cls, day: date) -> Week:
        iso = day.isocalendar()
        return cls(iso.year, iso.week)

    @classmethod
    def parse(cls, text: str, today: date) -> Week:
        """`this week` (or nothing), `last week`, or `YYYY-Www`; ValueError otherwise."""
        words = " ".join(text.lower().split())
        if words in ("", "this week"):
            return cls.containing(today)
        if words == "last week":
            return cls.containing(today - timedelta(days=7))
        match = _WEEK_LABEL.match(words)
        if match is None:
            raise ValueError(f"{text!r} is not a week: say this week, last week or 2026-W48")
        try:
            return cls.containing(date.fromisocalendar(int(match[1]), int(match[2]), 1))
        except ValueError:
            raise ValueError(f"{match[1]} has no week {int(match[2])}") from None

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.number:02d}"

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.number, 1)

    def shifted(self, weeks: int) -> Week:
        return Week.containing(self.monday + timedelta(weeks=weeks))

    def bounds(self, where: ZoneInfo) -> tuple[datetime, datetime]:
        """[start, end) in UTC: local midnight on Monday to local midnight a week later."""
        return _local_midnight(self.monday, where), _local_midnight(self.shifted(1).monday, where)


def _local_midnight(day: date, where: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=where).astimezone(UTC)


@dataclass(frozen=True)
class Summary:
    """Everything a summary shows; `as_dict` is the documented JSON."""

    team_id: str
    channel_id: str | None
    week: Week
    timezone: str
    start: datetime
    end: datetime
    tils: int
    tils_previous_week: int
    top_tags: list[Count]
    top_contributors: list[Count]
    highlights: list[QuotedTil]
    help: HelpCounts
    median_answer_seconds: float | None
    p90_answer_seconds: float | None
    oldest_open: list[QuotedQuestion]
    knowledge_gaps: list[TagGap]
    top_answerers: list[Count]
    reflection: ReflectionCounts
    # People the week's prompts reached: DM recipients plus the members of channels prompted.
    reflection_reached: int | None
    members: int | None
    active_members: list[str]
    first_time_contributors: list[str]
    inequality: Inequality

    @property
    def response_rate(self) -> float | None:
        return _share(self.reflection.answered_prompts, self.reflection_reached)

    @property
    def reflection_share(self) -> float | None:
        return _share(self.reflection.responders, self.members)

    @property
    def active_share(self) -> float | None:
        return _share(len(self.active_members), self.members)

    def as_dict(self) -> dict[str, Any]:
        return {
            "team_id": self.team_id,
            "channel_id": self.channel_id,
            "week": self.week.label,
            "timezone": self.timezone,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "tils": {
                "posted": self.tils,
                "previous_week": self.tils_previous_week,
                "change": self.tils - self.tils_previous_week,
                "top_tags": [{"tag": c.key, "count": c.count} for c in self.top_tags],
                "top_contributors": [
                    {"user_id": c.key, "count": c.count} for c in self.top_contributors
                ],
                "highlights": [asdict(til) for til in self.highlights],
            },
            "help": {
                **asdict(self.help),
                "median_seconds_to_first_answer": self.median_answer_seconds,
                "p90_seconds_to_first_answer": self.p90_answer_seconds,
                "oldest_open": [
                    {**asdict(q), "created_at": q.created_at.isoformat()} for q in self.oldest_open
                ],
                "knowledge_gaps": [asdict(gap) for gap in self.knowledge_gaps],
                "top_answerers": [{"user_id": c.key, "count": c.count} for c in self.top_answerers],
            },
            "reflection": {
                "prompts_sent": self.reflection.prompts_sent,
                "responses": self.reflection.responses,
                "responders": self.reflection.responders,
                "reached": self.reflection_reached,
                "response_rate": self.response_rate,
                "member_share": self.reflection_share,
            },
            "participation": {
                "active_members": len(self.active_members),
                "members": self.members,
                "active_share": self.active_share,
                "active_member_ids": self.active_members,
                "first_time_contributors": self.first_time_contributors,
                "inequality": inequality_dict(self.inequality),
            },
        }


def inequality_dict(week: Inequality) -> dict[str, Any]:
    """A week's 1/9/90 split as documented JSON: groups keyed by name, null when nobody took
    part."""
    return {
        "people": week.people,
        "contributions": week.contributions,
        "groups": {
            group.name: {
                "people": group.people,
                "contributions": group.contributions,
                "share": group.share,
            }
            for group in week.groups
        }
        or None,
    }


def _share(part: int, whole: int | None) -> float | None:
    return round(part / whole, 4) if whole else None


class _Quoted(Protocol):
    @property
    def channel_id(self) -> str: ...


Q = TypeVar("Q", bound=_Quoted)


# -- The workspace's zone ---------------------------------------------------------------------


def workspace_zone(team_id: str, default: str, *, session: Session) -> str:
    saved = workspace_settings.get_workspace_settings(team_id, session=session)
    return (saved.timezone if saved is not None else None) or default


def set_workspace_zone(
    team_id: str,
    actor_id: str,
    zone_name: str,
    now: datetime,
    *,
    session: Session,
    client: WebClient,
    managers: frozenset[str],
) -> str:
    """Managers choose the zone; digests already scheduled move to the new zone's clock."""
    require_manager(team_id, actor_id, session=session, client=client, seeded=managers)
    zone(zone_name)
    workspace_settings.update_workspace_settings(
        team_id, actor_id, {"timezone": zone_name}, session=session
    )
    for subscription in store.list_subscriptions(team_id, session=session):
        subscription.next_run_at = next_digest_at(subscription, zone_name, now)
        session.add(subscription)
    session.commit()
    return zone_name


# -- Computing a summary ----------------------------------------------------------------------


def summarise(
    team_id: str,
    channel_id: str | None,
    week: Week,
    zone_name: str,
    *,
    session: Session,
    client: WebClient | None,
    shown_in: str | None = None,
) -> Summary:
    """The week's summary of a workspace (channel_id None) or one channel.

    `shown_in` is the channel the summary will be shown in. Without a Slack client (the CLI
    offline), channel sizes are unknown (None) and every channel counts as private for quoting.
    """
    start, end = week.bounds(zone(zone_name))
    window = Window(team_id, channel_id, start, end)
    previous = Window(team_id, channel_id, *week.shifted(-1).bounds(zone(zone_name)))
    hidden = hiding(team_id, channel_id, shown_in, session=session, client=client)
    percentiles = store.answer_time_percentiles(window, (0.5, 0.9), session=session)
    reflection = store.reflection_counts(window, session=session)
    members = _Members(team_id, client)
    summary = Summary(
        team_id=team_id,
        channel_id=channel_id,
        week=week,
        timezone=zone_name,
        start=start,
        end=end,
        tils=store.count_tils(window, session=session),
        tils_previous_week=store.count_tils(previous, session=session),
        top_tags=store.top_tags(window, TOP, session=session),
        top_contributors=store.top_contributors(window, TOP, session=session),
        highlights=_quotable(
            lambda h: store.highlighted_tils(window, HIGHLIGHTS, h, session=session), hidden
        ),
        help=store.help_counts(window, session=session),
        median_answer_seconds=percentiles[0] if percentiles else None,
        p90_answer_seconds=percentiles[1] if percentiles else None,
        oldest_open=_quotable(
            lambda h: store.oldest_open_questions(window, OLDEST_OPEN, h, session=session), hidden
        ),
        knowledge_gaps=store.knowledge_gaps(window, TOP, session=session),
        top_answerers=store.top_answerers(window, TOP, session=session),
        reflection=reflection,
        reflection_reached=_reached(reflection, members),
        members=members.count(channel_id),
        active_members=store.active_members(window, session=session),
        first_time_contributors=store.first_time_contributors(window, session=session),
        inequality=store.contribution_inequality(
            team_id, channel_id, [start, end], session=session
        )[0],
    )
    session.commit()  # what Slack said about channels' privacy
    return summary


def hiding(
    team_id: str,
    channel_id: str | None,
    shown_in: str | None,
    *,
    session: Session,
    client: WebClient | None,
) -> Callable[[set[str]], set[str]]:
    """Which of some channels a summary of `channel_id` shown in `shown_in` must neither quote
    nor name people from: the private ones, except the summary's own channel shown there."""
    privacy = _Privacy(team_id, session=session, client=client)

    def hidden(channels: set[str]) -> set[str]:
        return {c for c in privacy.private(channels) if not (c == channel_id and c == shown_in)}

    return hidden


def _quotable(
    fetch: Callable[[frozenset[str]], list[Q]], hidden: Callable[[set[str]], set[str]]
) -> list[Q]:
    """Rows to quote, none from a hidden channel: each round hides what the last one found."""
    excluded: frozenset[str] = frozenset()
    while True:
        rows = fetch(excluded)
        newly = hidden({row.channel_id for row in rows}) - excluded
        if not newly:
            return rows
        excluded |= newly


def _reached(reflection: ReflectionCounts, members: _Members) -> int | None:
    reached = reflection.dm_deliveries
    for channel, prompts in reflection.channel_prompts.items():
        size = members.count(channel)
        if size is None:
            return None
        reached += prompts * size
    return reached


class _Privacy:
    """Which channels are private: remembered for a day, asked of Slack otherwise; a channel
    nobody could ask about is treated as private."""

    def __init__(self, team_id: str, *, session: Session, client: WebClient | None) -> None:
        self.team_id = team_id
        self.session = session
        self.client = client
        self.known: dict[str, bool] = {}

    def private(self, channels: Iterable[str]) -> set[str]:
        unknown = set(channels) - self.known.keys()
        self.known.update(
            store.recent_privacy(
                self.team_id, unknown, utcnow() - PRIVACY_TTL, session=self.session
            )
        )
        for channel in sorted(unknown - self.known.keys()):
            self.known[channel] = self._ask(channel)
        return {channel for channel in channels if self.known[channel]}

    def _ask(self, channel: str) -> bool:
        if self.client is None:
            return True
        try:
            info = self.client.conversations_info(channel=channel)["channel"]
        except SlackApiError as error:
            logger.warning("privacy of %s unknown: %s", channel, error.response.get("error"))
            return True
        private = bool(info.get("is_private") or info.get("is_im") or info.get("is_mpim"))
        store.remember_privacy(self.team_id, channel, private, session=self.session)
        return private


def _reason(error: SlackClientError) -> str:
    """What Slack said (`not_in_channel`), or what went wrong on the way."""
    if isinstance(error, SlackApiError):
        return str(error.response.get("error"))
    return type(error).__name__


class _Members:
    """How many people a channel or the workspace has (bots left out), asked of Slack once."""

    def __init__(self, team_id: str, client: WebClient | None) -> None:
        self.team_id = team_id
        self.client = client
        self.sizes: dict[str | None, int | None] = {}

    def count(self, channel_id: str | None) -> int | None:
        if channel_id not in self.sizes:
            self.sizes[channel_id] = self._ask(channel_id)
        return self.sizes[channel_id]

    def _ask(self, channel_id: str | None) -> int | None:
        if self.client is None:
            return None
        try:
            if channel_id is None:
                return sum(
                    1
                    for page in self.client.users_list(limit=200)
                    for user in page["members"]
                    if not (user.get("is_bot") or user.get("deleted") or user["id"] == _SLACKBOT)
                )
            bot_user = self.client.auth_test()["user_id"]
            return sum(
                1
                for page in self.client.conversations_members(channel=channel_id, limit=200)
                for member in page["members"]
                if member != bot_user
            )
        except SlackApiError as error:
            logger.warning(
                "member count of %s unknown: %s",
                channel_id or "the workspace",
                error.response.get("error"),
            )
            return None


# -- /summary ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SummaryRequest:
    channel_id: str | None
    week_text: str


def parse_request(text: str, here: str) -> SummaryRequest:
    """`[#channel|all] [this week|last week|YYYY-Www]`: by default the channel it is typed in,
    or the whole workspace when typed in a DM."""
    words = text.split()
    channel_id: str | None = None if here.startswith("D") else here
    if words and words[0].lower() == "all":
        channel_id, words = None, words[1:]
    elif words and (reference := channel_reference(words[0])) is not None:
        channel_id, words = reference, words[1:]
    elif words and words[0].startswith("#"):
        raise SummaryRequestError(f"I don't know the channel {words[0]}")
    return SummaryRequest(channel_id, " ".join(words))


def prepare_summary(
    team_id: str,
    user_id: str,
    request: SummaryRequest,
    now: datetime,
    default_zone: str,
    *,
    session: Session,
    client: WebClient,
    managers: frozenset[str],
) -> tuple[Week, str]:
    """Check a /summary before it is acknowledged: the week and zone it means. NotAllowed for
    anyone but a manager, SummaryRequestError for a week that is not one."""
    require_manager(team_id, user_id, session=session, client=client, seeded=managers)
    zone_name = workspace_zone(team_id, default_zone, session=session)
    try:
        week = Week.parse(request.week_text, now.astimezone(zone(zone_name)).date())
    except ValueError as error:
        raise SummaryRequestError(str(error)) from None
    return week, zone_name


def send_summary(
    team_id: str,
    request: SummaryRequest,
    week: Week,
    zone_name: str,
    shown_in: str,
    response_url: str,
    *,
    session: Session,
    client: WebClient,
    health: bool = False,
) -> Summary | Health:
    """Compute the summary (with a pointer to community health), or with `health` the
    community health, after the ack and show it to the requester only; if the database or
    Slack fails meanwhile, say so to the requester (and log it) rather than go quiet."""
    from bot.health import Health, assess  # bot.health builds on this module

    try:
        figures = (assess if health else summarise)(
            team_id,
            request.channel_id,
            week,
            zone_name,
            session=session,
            client=client,
            shown_in=shown_in,
        )
    except (SQLAlchemyError, SlackClientError):
        tell_privately(response_url, blocks.notice("summary_failed"))
        raise
    if isinstance(figures, Health):
        tell_privately(response_url, blocks.health(figures))
    else:
        tell_privately(
            response_url, [*blocks.summary(figures), *blocks.note("summary_health_hint")]
        )
    return figures


def publish_home(
    team_id: str,
    user_id: str,
    now: datetime,
    default_zone: str,
    *,
    session: Session,
    client: WebClient,
    managers: frozenset[str],
) -> None:
    """Everyone's own week on the App Home; managers also get the team's figures and its
    community health (nothing private quoted or named)."""
    from bot.health import assess  # bot.health builds on this module

    zone_name = workspace_zone(team_id, default_zone, session=session)
    week = Week.containing(now.astimezone(zone(zone_name)).date())
    window = Window(team_id, None, *week.bounds(zone(zone_name)))
    mine = store.personal_week(team_id, user_id, window, HOME_TILS, session=session)
    team = (
        (
            summarise(team_id, None, week, zone_name, session=session, client=client),
            assess(team_id, None, week, zone_name, session=session, client=client),
        )
        if is_manager(team_id, user_id, session=session, client=client, seeded=managers)
        else None
    )
    client.views_publish(user_id=user_id, view=blocks.home(user_id, week.label, mine, team))


# -- Digests ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubscriptionRequest:
    channel_id: str
    scope_channel_id: str | None
    weekday: int
    time_of_day: str


def parse_subscription(words: list[str]) -> SubscriptionRequest:
    """`#channel [#other|all] <weekday> <HH:MM>`: the digest of #channel (or #other, or the
    whole workspace) posted to #channel."""
    channel = channel_reference(words[0]) if words else None
    if channel is None:
        raise SummaryRequestError("say which channel gets the digest, e.g. `#learning`")
    rest = words[1:]
    scope: str | None = channel
    if rest and rest[0].lower() == "all":
        scope, rest = None, rest[1:]
    elif rest and (other := channel_reference(rest[0])) is not None:
        scope, rest = other, rest[1:]
    if len(rest) != 2 or not TIME_OF_DAY.match(rest[1]):
        raise SummaryRequestError("give a day and a time, e.g. `mon 09:00`")
    try:
        day = weekday(rest[0])
    except ValueError as error:
        raise SummaryRequestError(str(error)) from None
    hours, minutes = rest[1].split(":")
    return SubscriptionRequest(channel, scope, day, f"{int(hours):02d}:{minutes}")


def next_digest_at(subscription: SummarySubscription, zone_name: str, after: datetime) -> datetime:
    """The first digest time (weekday, HH:MM in the zone) strictly after `after`."""
    where = zone(zone_name)
    hours, minutes = (int(part) for part in subscription.time_of_day.split(":"))
    local_day = after.astimezone(where).date()
    for offset in range(8):
        day = local_day + timedelta(days=offset)
        if day.weekday() != subscription.weekday:
            continue
        moment = datetime.combine(day, time(hours, minutes), tzinfo=where).astimezone(UTC)
        if moment > after:
            return moment
    raise AssertionError("a weekday recurs within 8 days")


def digest_week(run_at: datetime, zone_name: str) -> Week:
    """The week a digest reports: from Monday to Thursday the week just over, from Friday the
    week that is ending."""
    local = run_at.astimezone(zone(zone_name)).date()
    week = Week.containing(local)
    return week if local.weekday() >= 4 else week.shifted(-1)


def subscribe(
    team_id: str,
    actor_id: str,
    request: SubscriptionRequest,
    now: datetime,
    default_zone: str,
    *,
    session: Session,
    client: WebClient,
    managers: frozenset[str],
) -> tuple[SummarySubscription, str]:
    """Managers only; subscribing a channel again replaces its digest. Returns it with the
    zone its time is in."""
    require_manager(team_id, actor_id, session=session, client=client, seeded=managers)
    subscription = store.get_subscription(
        team_id, request.channel_id, session=session
    ) or SummarySubscription(
        team_id=team_id,
        channel_id=request.channel_id,
        weekday=request.weekday,
        time_of_day=request.time_of_day,
        created_by=actor_id,
        next_run_at=now,
    )
    subscription.scope_channel_id = request.scope_channel_id
    subscription.weekday = request.weekday
    subscription.time_of_day = request.time_of_day
    subscription.created_by = actor_id
    zone_name = workspace_zone(team_id, default_zone, session=session)
    subscription.next_run_at = next_digest_at(subscription, zone_name, now)
    session.add(subscription)
    session.commit()
    session.refresh(subscription)
    return subscription, zone_name


def unsubscribe(
    team_id: str,
    actor_id: str,
    channel_id: str,
    *,
    session: Session,
    client: WebClient,
    managers: frozenset[str],
) -> bool:
    """Managers only; False when the channel had no digest."""
    require_manager(team_id, actor_id, session=session, client=client, seeded=managers)
    subscription = store.get_subscription(team_id, channel_id, session=session)
    if subscription is None:
        return False
    session.delete(subscription)
    session.commit()
    return True


def subscriptions(team_id: str, *, session: Session) -> list[SummarySubscription]:
    return store.list_subscriptions(team_id, session=session)


def post_due_digests(
    now: datetime, default_zone: str, *, session: Session, clients: ClientFor
) -> list[int]:
    """Post every due digest once per channel and week, with its chart; a digest missed while
    the app was down is posted late rather than never, and only the latest week's."""
    posted = []
    for subscription in store.due_subscriptions(now, session=session):
        assert subscription.id is not None
        client = clients(subscription.team_id)
        if client is None:
            continue
        zone_name = workspace_zone(subscription.team_id, default_zone, session=session)
        week = digest_week(subscription.next_run_at, zone_name)
        subscription.next_run_at = next_digest_at(
            subscription, zone_name, max(now, subscription.next_run_at)
        )
        session.add(subscription)
        digest = store.claim_digest(subscription, week.label, session=session)
        session.commit()
        if digest is None:
            continue
        summary = summarise(
            subscription.team_id,
            subscription.scope_channel_id,
            week,
            zone_name,
            session=session,
            client=client,
            shown_in=subscription.channel_id,
        )
        try:
            digest.message_ts = post(client, subscription.channel_id, blocks.summary(summary))
            digest.chart_file_id = _upload_chart(
                client, summary, subscription.channel_id, digest.message_ts, session=session
            )
        except SlackClientError as error:  # an API refusal, or the upload URL failing
            logger.warning(
                "digest %s for %s in %s not posted in full: %s",
                week.label,
                subscription.id,
                subscription.channel_id,
                _reason(error),
            )
        session.add(digest)
        session.commit()
        posted.append(subscription.id)
    return posted


def _upload_chart(
    client: WebClient, summary: Summary, channel_id: str, thread_ts: str, *, session: Session
) -> str:
    from bot.summary_report import chart_png  # matplotlib is slow to import; only digests need it

    png = chart_png(*chart_series(summary, session=session), chart_title(summary))
    response = client.files_upload_v2(
        channel=channel_id,
        thread_ts=thread_ts,
        content=png,
        filename=f"learnloop-{summary.week.label}.png",
        title=chart_title(summary),
    )
    return str(response["file"]["id"])


def trend(week: Week, zone_name: str) -> tuple[list[Week], list[datetime]]:
    """The 8 weeks ending with `week`, and the 9 local midnights that bound them, in UTC."""
    weeks = [week.shifted(offset) for offset in range(1 - CHART_WEEKS, 1)]
    where = zone(zone_name)
    return weeks, [_local_midnight(w.monday, where) for w in [*weeks, week.shifted(1)]]


def chart_series(summary: Summary, *, session: Session) -> tuple[list[str], dict[str, list[int]]]:
    """The chart's figures: the summary's week and the seven before it."""
    weeks, boundaries = trend(summary.week, summary.timezone)
    series = store.weekly_series(summary.team_id, summary.channel_id, boundaries, session=session)
    return [week.label for week in weeks], series


def chart_title(summary: Summary) -> str:
    return f"LearnLoop: the {CHART_WEEKS} weeks to {summary.week.label}"
