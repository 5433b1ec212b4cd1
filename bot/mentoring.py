"""Mentoring pairs: people offer to mentor or seek a mentor on tags, and every few weeks a
round pairs seekers with mentors and opens a group DM for each pair.

Pairing rules (README "Mentoring"): a pair shares at least one tag (the seeker's seek, the
mentor's offer); nobody is paired with themselves; each person is in at most one new pair per
round; two people who were ever paired (skipped pairs aside) are never paired again; with
cross-team off, a shared tag counts only when both signed up for it in the same channel. Among
the possible pairs, more shared tags first, then the seeker waiting longest, then by user ids.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum

from slack_sdk import WebClient
from sqlmodel import Session

from bot import blocks, outbox
from bot.replies import post, update
from bot.roles import require_lead_or_manager
from bot.settings import Settings
from bot.slack_client import ClientFor
from storage import experts as expert_store
from storage import mentoring as store
from storage.mentoring import Rhythm
from storage.models import MentorPair, MentorRound, MentorSide, PairStatus
from storage.types import utcnow

logger = logging.getLogger(__name__)

# The first round of a workspace: the first Monday at this hour (UTC) after its first sign-up.
ROUND_WEEKDAY = 0
ROUND_TIME = time(10, 0)
MAX_EVERY_WEEKS = 12
INTRODUCE = "mentoring.introduce"
SHOW_PAIR = "mentoring.show_pair"


@dataclass(frozen=True)
class Match:
    """A mentor and a seeker a round may pair, on the tags they share."""

    mentor_id: str
    seeker_id: str
    tags: tuple[str, ...]


@dataclass
class Candidates:
    """Who signed up for what, by person: tag -> the channel they signed up for it in."""

    offers: dict[str, dict[str, str]] = field(default_factory=dict)
    seeks: dict[str, dict[str, str]] = field(default_factory=dict)


def choose_pairs(
    candidates: Candidates,
    met: set[frozenset[str]],
    waiting_since: dict[str, datetime],
    *,
    cross_team: bool,
) -> list[Match]:
    """One round's pairs under the rules above (greedy in order of preference)."""
    possible = []
    for seeker, seeks in candidates.seeks.items():
        for mentor, offers in candidates.offers.items():
            if seeker == mentor or frozenset((seeker, mentor)) in met:
                continue
            shared = tuple(
                sorted(
                    tag
                    for tag, channel in seeks.items()
                    if tag in offers and (cross_team or offers[tag] == channel)
                )
            )
            if shared:
                possible.append(Match(mentor, seeker, shared))
    possible.sort(
        key=lambda m: (-len(m.tags), waiting_since[m.seeker_id], m.seeker_id, m.mentor_id)
    )
    taken: set[str] = set()
    chosen = []
    for match in possible:
        if match.mentor_id not in taken and match.seeker_id not in taken:
            chosen.append(match)
            taken |= {match.mentor_id, match.seeker_id}
    return chosen


# -- commands ---------------------------------------------------------------------------


def sign_up(
    team_id: str,
    user_id: str,
    side: MentorSide,
    tags: list[str],
    channel_id: str,
    *,
    session: Session,
) -> tuple[list[str], Overview]:
    """Offer or seek on the tags (aliases resolved); returns the tags as recorded."""
    resolved = expert_store.resolve_aliases(team_id, tags, session=session)
    store.sign_up(team_id, user_id, side, resolved, channel_id, session=session)
    session.commit()
    return resolved, overview(team_id, user_id, session=session)


def withdraw(team_id: str, user_id: str, sides: list[MentorSide], *, session: Session) -> int:
    """Stop offering and/or seeking; pairs already formed stay."""
    removed = store.withdraw(team_id, user_id, sides, session=session)
    session.commit()
    return removed


@dataclass(frozen=True)
class Overview:
    """What `/learnloop mentor` shows someone."""

    offers: list[str]
    seeks: list[str]
    pairs: list[MentorPair]
    rhythm: Rhythm
    next_round: datetime | None


def overview(team_id: str, user_id: str, *, session: Session) -> Overview:
    mine = store.signups(team_id, session=session, user_id=user_id)
    return Overview(
        offers=[s.tag for s in mine if s.side is MentorSide.OFFER],
        seeks=[s.tag for s in mine if s.side is MentorSide.SEEK],
        pairs=store.pairs_of(team_id, user_id, session=session, status=PairStatus.ACTIVE),
        rhythm=store.rhythm(team_id, session=session),
        next_round=next_round_at(team_id, session=session),
    )


def set_rhythm(
    team_id: str,
    actor_id: str,
    *,
    every_weeks: int | None = None,
    cross_team: bool | None = None,
    session: Session,
    client: WebClient,
    managers: frozenset[str],
) -> Overview:
    """Leads and managers change how often rounds are formed, or whether across teams."""
    require_lead_or_manager(team_id, actor_id, session=session, client=client, seeded=managers)
    current = store.rhythm(team_id, session=session)
    changed = Rhythm(
        every_weeks if every_weeks is not None else current.every_weeks,
        cross_team if cross_team is not None else current.cross_team,
    )
    store.set_rhythm(team_id, changed, actor_id, session=session)
    session.commit()
    return overview(team_id, actor_id, session=session)


class Closing(StrEnum):
    DONE = "done"
    NOT_THEIRS = "not_theirs"
    ALREADY = "already"


@dataclass(frozen=True)
class Closed:
    """What a Skip or End did; the follow-up updates the intro in the group DM."""

    outcome: Closing
    pair: MentorPair | None = None
    follow_up: outbox.Promised | None = None


def close_pair(
    team_id: str, pair_id: int, user_id: str, status: PairStatus, *, session: Session
) -> Closed:
    """Skip or end a pair by its intro's button; only the two people in it may."""
    pair = store.get_pair(pair_id, session=session)
    if pair is None or pair.team_id != team_id:
        return Closed(Closing.ALREADY)
    if user_id not in (pair.mentor_id, pair.seeker_id):
        return Closed(Closing.NOT_THEIRS, pair)
    if pair.status is not PairStatus.ACTIVE:
        return Closed(Closing.ALREADY, pair)
    follow_up = _close(pair, user_id, status, session=session)
    session.commit()
    return Closed(Closing.DONE, pair, follow_up)


def end_pairs(team_id: str, user_id: str, *, session: Session) -> list[Closed]:
    """`/learnloop mentor end`: every active pair the person is in ends."""
    pairs = store.pairs_of(team_id, user_id, session=session, status=PairStatus.ACTIVE)
    ended = [
        Closed(Closing.DONE, pair, _close(pair, user_id, PairStatus.ENDED, session=session))
        for pair in pairs
    ]
    session.commit()
    return ended


def _close(
    pair: MentorPair, user_id: str, status: PairStatus, *, session: Session
) -> outbox.Promised:
    pair.status, pair.ended_by, pair.ended_at = status, user_id, utcnow()
    session.add(pair)
    return outbox.enqueue(pair.team_id, SHOW_PAIR, session=session, pair_id=pair.id)


# -- rounds -------------------------------------------------------------------------------


def first_round_after(moment: datetime) -> datetime:
    """The first Monday 10:00 UTC strictly after `moment`."""
    day = moment.astimezone(UTC).date()
    day += timedelta(days=(ROUND_WEEKDAY - day.weekday()) % 7)
    first = datetime.combine(day, ROUND_TIME, tzinfo=UTC)
    return first if first > moment else first + timedelta(weeks=1)


def next_round_at(team_id: str, *, session: Session) -> datetime | None:
    """When the workspace's next round is due; None while nobody signed up."""
    last = store.last_round(team_id, session=session)
    if last is not None:
        return last.due_at + timedelta(weeks=store.rhythm(team_id, session=session).every_weeks)
    first_signup = store.first_signup_at(team_id, session=session)
    return first_round_after(first_signup) if first_signup is not None else None


def form_due_rounds(
    now: datetime, *, session: Session, clients: ClientFor, settings: Settings
) -> list[int]:
    """Form each workspace's due round once (whatever other replicas do), then open a group DM
    for each new pair; returns the new pairs' ids. A round missed while the app was down is
    formed late, once, as the latest one due."""
    formed = []
    for team_id in store.teams_signed_up(session=session):
        due = next_round_at(team_id, session=session)
        if due is None or due > now:
            continue
        client = clients(team_id)
        if client is None:
            continue
        period = timedelta(weeks=store.rhythm(team_id, session=session).every_weeks)
        while due + period <= now:
            due += period
        round_ = store.claim_round(team_id, due, session=session)
        if round_ is None:
            session.rollback()
            continue
        introductions = _pair_up(round_, session=session)
        session.commit()
        for pair_id, follow_up in introductions:
            formed.append(pair_id)
            if not follow_up.held:
                continue  # a worker introduces them
            try:
                outbox.run_promised(follow_up, session=session, client=client, settings=settings)
            except Exception:
                logger.warning(
                    "mentoring intro for pair %s failed; replayed later", pair_id, exc_info=True
                )
    return formed


def _pair_up(round_: MentorRound, *, session: Session) -> list[tuple[int, outbox.Promised]]:
    """The round's pairs and their intro follow-ups, in the caller's transaction."""
    team_id = round_.team_id
    candidates = Candidates()
    joined: dict[str, datetime] = {}
    for signup in store.signups(team_id, session=session):
        side = candidates.offers if signup.side is MentorSide.OFFER else candidates.seeks
        side.setdefault(signup.user_id, {})[signup.tag] = signup.channel_id
        if signup.side is MentorSide.SEEK:
            joined.setdefault(signup.user_id, signup.created_at)
    met: set[frozenset[str]] = set()
    waiting_since = dict(joined)
    for mentor, seeker, when in store.met(team_id, session=session):
        met.add(frozenset((mentor, seeker)))
        if seeker in waiting_since:
            waiting_since[seeker] = max(waiting_since[seeker], when)
    cross_team = store.rhythm(team_id, session=session).cross_team
    introductions = []
    for match in choose_pairs(candidates, met, waiting_since, cross_team=cross_team):
        pair = store.add_pair(
            round_, match.mentor_id, match.seeker_id, list(match.tags), session=session
        )
        assert pair.id is not None
        follow_up = outbox.enqueue(team_id, INTRODUCE, session=session, pair_id=pair.id)
        introductions.append((pair.id, follow_up))
    return introductions


# -- the group DM -------------------------------------------------------------------------


def suggested_topic(pair: MentorPair, *, session: Session) -> blocks.Topic:
    """The seeker's latest question on a shared tag, else the mentor's most reacted TIL on
    one, else a general opener."""
    tags = expert_store.with_aliases(pair.team_id, pair.tags.split(), session=session)
    question = store.latest_question(pair.team_id, pair.seeker_id, tags, session=session)
    if question is not None:
        return blocks.Topic("question", question.text, question.permalink)
    til = store.most_reacted_til(pair.team_id, pair.mentor_id, tags, session=session)
    if til is not None:
        return blocks.Topic("til", til.text, til.permalink)
    return blocks.Topic("generic")


def introduce(pair_id: int, *, session: Session, client: WebClient) -> None:
    """Open the pair's group DM and post the intro there; safe to run again."""
    pair = store.get_pair(pair_id, session=session)
    if pair is None or pair.message_ts is not None:
        return
    if pair.channel_id is None:
        opened = client.conversations_open(users=f"{pair.mentor_id},{pair.seeker_id}")
        pair.channel_id = str(opened["channel"]["id"])
        session.add(pair)
        session.commit()
    assert pair.channel_id is not None
    intro = blocks.mentor_pair(pair, suggested_topic(pair, session=session))
    pair.message_ts = post(client, pair.channel_id, intro)
    session.add(pair)
    session.commit()


def show_pair(pair_id: int, *, session: Session, client: WebClient) -> None:
    """Bring the intro in the group DM up to date (skipped, ended); its buttons go."""
    pair = store.get_pair(pair_id, session=session)
    if pair is None or pair.channel_id is None or pair.message_ts is None:
        return  # the intro, when it is posted, shows the pair as it is then
    intro = blocks.mentor_pair(pair, suggested_topic(pair, session=session))
    update(client, pair.channel_id, pair.message_ts, intro)
