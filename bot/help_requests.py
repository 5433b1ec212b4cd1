"""Help requests: ask, route to experts, take / decline, first answer, resolution.

Routing policy (README "Routing policy"): up to N declared experts on the question's tags,
never the asker, never someone away, deactivated or a bot, never the same person twice for one
question; among the rest, people inside their working hours first, then those not in Do Not
Disturb (when the dnd:read scope is granted), then whoever was asked
least (over the last 30 days), then least recently, so questions on a tag spread evenly over its
experts. When too few declared experts are available, colleagues whose resolved answers and TILs
on the tags show they know it (learned expertise) are asked next.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlmodel import Session

from bot import blocks, outbox
from bot.experts import learned_scores
from bot.help_policy import for_workspace
from bot.replies import post, post_dm, tell_privately, update
from bot.roles import require_manager
from bot.settings import HelpPolicy
from bot.slack_client import ClientFor, is_transient, message_permalink, workspace_url
from bot.text import command_tags, normalise_tag
from bot.til import (
    CommandText,
    SlackMessage,
    capture_message,
    confirm_capture,
    fetch_message,
)
from storage import experts as expert_store
from storage import help_requests as help_store
from storage import til as til_store
from storage.models import HelpRequest, HelpStatus, RouteAnswer, Til, TilSource
from storage.types import utcnow

logger = logging.getLogger(__name__)

WORKDAY_START_HOUR = 9
WORKDAY_END_HOUR = 18
LOAD_WINDOW = timedelta(days=30)
MAX_SUGGESTIONS = 3
# Suggestions come from the latest matches this many (SQLite ranks no more): they run for
# every /ask, and the best of recent knowledge is what a suggestion should show.
SUGGESTED_FROM = 500
SUGGESTION_HOLD = timedelta(minutes=2)
_WORD = re.compile(r"[\w\-.+]+", re.UNICODE)
_NEVER = datetime.min.replace(tzinfo=ZoneInfo("UTC"))


@dataclass(frozen=True)
class Candidate:
    user_id: str
    in_working_hours: bool
    recent_load: int
    last_asked_at: datetime | None
    in_dnd: bool = False

    def sort_key(self) -> tuple[bool, bool, int, datetime, str]:
        return (
            not self.in_working_hours,
            self.in_dnd,
            self.recent_load,
            self.last_asked_at or _NEVER,
            self.user_id,
        )


@dataclass(frozen=True)
class Suggestion:
    """Something the team already knows that may answer a new question."""

    text: str
    permalink: str | None
    is_til: bool


def ask_questions(batch: list[CommandText], *, session: Session) -> list[outbox.Promised]:
    """/ask questions that arrived together (bot.batching), stored with their tags in one
    transaction, each with the follow-up that posts it, shows the asker what may already answer
    it and asks the experts (post_and_route); returns those follow-ups.

    Only what the ack promises is done here: searching past answers and routing wait for the
    follow-up, so an ack costs a stored row, not a search.
    """
    tags: dict[int, list[str]] = {}
    for team_id in dict.fromkeys(question.team_id for question in batch):
        indexes = [index for index, question in enumerate(batch) if question.team_id == team_id]
        texts = [batch[index].text for index in indexes]
        tags.update(zip(indexes, _question_tags(team_id, texts, session=session), strict=True))
    request_ids = help_store.add_help_requests(
        [
            help_store.NewQuestion(
                team_id=question.team_id,
                channel_id=question.channel_id,
                asker_id=question.user_id,
                text=question.text,
                tags=tags[index],
            )
            for index, question in enumerate(batch)
        ],
        session=session,
    )
    promised = outbox.enqueue_all(
        [
            (
                question.team_id,
                "help.post_and_route",
                {"request_id": request_id, "response_url": question.response_url},
            )
            for question, request_id in zip(batch, request_ids, strict=True)
        ],
        session=session,
    )
    session.commit()
    return promised


def suggest(team_id: str, text: str, *, session: Session) -> list[Suggestion]:
    """Up to MAX_SUGGESTIONS TILs, then resolved questions, sharing words with the question
    (of the latest SUGGESTED_FROM matches of each)."""
    tils = til_store.search_tils(
        team_id, text, session=session, limit=MAX_SUGGESTIONS, any_word=True, ranked=SUGGESTED_FROM
    )
    found = [Suggestion(til.text, til.permalink, is_til=True) for til in tils]
    if len(found) < MAX_SUGGESTIONS:
        questions = help_store.search_resolved(
            team_id,
            text,
            session=session,
            limit=MAX_SUGGESTIONS - len(found),
            ranked=SUGGESTED_FROM,
        )
        found += [Suggestion(q.text, q.permalink, is_til=False) for q in questions]
    return found


def _question_tags(team_id: str, texts: list[str], *, session: Session) -> list[list[str]]:
    """Each question's #tags, else the known tags among its words; aliases resolved, in one
    query for all the questions (a batch of /ask pays for one)."""
    written = [list(command_tags(text)) for text in texts]
    known = set() if all(written) else expert_store.known_tags(team_id, session=session)
    chosen = [
        tags or [word for word in _words(text) if word in known]
        for tags, text in zip(written, texts, strict=True)
    ]
    meanings = expert_store.aliases(
        team_id, {tag for tags in chosen for tag in tags}, session=session
    )
    return [list(dict.fromkeys(meanings.get(tag, tag) for tag in tags)) for tags in chosen]


def _words(text: str) -> list[str]:
    """The question's words as tags would be written, each once."""
    return list(dict.fromkeys(normalise_tag(word) for word in _WORD.findall(text)))


def unrouted_questions(
    team_id: str,
    actor_id: str,
    *,
    session: Session,
    client: WebClient,
    managers: frozenset[str],
) -> list[tuple[HelpRequest, list[str]]]:
    """For managers: open questions that reached nobody, with their tags (knowledge gaps)."""
    require_manager(team_id, actor_id, session=session, client=client, seeded=managers)
    return [
        (request, help_store.tags_of(request.id or 0, session=session))
        for request in help_store.unrouted(team_id, session=session)
    ]


def post_and_route(
    request_id: int,
    response_url: str,
    *,
    session: Session,
    client: WebClient,
    defaults: HelpPolicy,
) -> list[str]:
    """After the ack (a follow-up, safe to run twice): post the question in its channel; when
    TILs or resolved questions look like answers, show them to the asker and hold routing for
    SUGGESTION_HOLD (route_held asks then, unless the asker says one answered it); otherwise
    ask the first experts now.

    Returns who was asked. When the channel refuses the post, or nobody can be asked, the
    asker hears why, privately; a Slack outage is raised so the follow-up is tried again.
    Suggestions are shown once, with the post (a replay after that only routes).
    """
    request = help_store.get_help_request(request_id, session=session)
    if request is None:
        return []
    tags = help_store.tags_of(request_id, session=session)
    session.commit()  # hold no transaction (nor SQLite's one connection) while Slack answers
    if request.message_ts is None:
        try:
            posted_ts = post(client, request.channel_id, blocks.question_post(request, tags))
        except SlackApiError as error:
            if is_transient(error):
                raise
            reason = str(error.response.get("error", "unknown_error"))
            tell_privately(response_url, blocks.question_not_posted(reason))
            return []
        request.message_ts = request.status_ts = posted_ts
        request.permalink = message_permalink(workspace_url(client), request.channel_id, posted_ts)
        suggestions = suggest(request.team_id, request.text, session=session)
        if suggestions:
            request.route_at = utcnow() + SUGGESTION_HOLD
        session.add(request)
        session.commit()
        if suggestions:
            tell_privately(response_url, blocks.ask_suggestions(request, suggestions))
    if request.route_at is not None:  # the asker is looking at suggestions; route_held asks
        return []
    asked = _ask_first_experts(request, tags, session=session, client=client, defaults=defaults)
    if not asked:
        tell_privately(response_url, blocks.no_experts(tags))
    return asked


def ask_by_mention(
    team_id: str,
    channel_id: str,
    asker_id: str,
    text: str,
    message_ts: str,
    *,
    session: Session,
) -> outbox.Promised | None:
    """A message mentioning the bot is the question itself: stored with the follow-up that
    routes it; returns that follow-up, None when the question is already stored."""
    if help_store.get_help_request_by_message(team_id, channel_id, message_ts, session=session):
        return None
    [request_id] = help_store.add_help_requests(
        [
            help_store.NewQuestion(
                team_id=team_id,
                channel_id=channel_id,
                asker_id=asker_id,
                text=text,
                tags=_question_tags(team_id, [text], session=session)[0],
                message_ts=message_ts,
            )
        ],
        session=session,
    )
    follow_up = outbox.enqueue(
        team_id, "help.route_mentioned", session=session, request_id=request_id
    )
    session.commit()
    return follow_up


def route_mentioned(
    request_id: int,
    *,
    session: Session,
    client: WebClient,
    defaults: HelpPolicy,
) -> list[str]:
    """After the ack (a follow-up, safe to run twice): ask the experts, then say in the
    question's thread who was asked."""
    request = help_store.get_help_request(request_id, session=session)
    if request is None or request.message_ts is None or request.status_ts is not None:
        return []
    tags = help_store.tags_of(request_id, session=session)
    permalink = client.chat_getPermalink(channel=request.channel_id, message_ts=request.message_ts)
    request.permalink = str(permalink["permalink"])
    session.add(request)
    session.commit()
    asked = _ask_first_experts(request, tags, session=session, client=client, defaults=defaults)
    request.status_ts = post(
        client,
        request.channel_id,
        blocks.mention_status(request, asked, tags),
        thread_ts=request.message_ts,
    )
    session.add(request)
    session.commit()
    return asked


def _ask_first_experts(
    request: HelpRequest,
    tags: list[str],
    *,
    session: Session,
    client: WebClient,
    defaults: HelpPolicy,
) -> list[str]:
    """Route to the first experts, tell the tag's followers, start the escalation clock."""
    policy = for_workspace(request.team_id, defaults, session=session)
    asked = route(request, policy.experts_per_question, session=session, client=client)
    _notify_followers(request, tags, asked, session=session, client=client)
    if asked:
        request.escalate_at = utcnow() + policy.escalation_window
        session.add(request)
        session.commit()
    return asked


def route(request: HelpRequest, count: int, *, session: Session, client: WebClient) -> list[str]:
    """Ask up to `count` more experts by DM, recording each before the DM (never twice)."""
    assert request.id is not None
    tags = help_store.tags_of(request.id, session=session)
    chosen = choose_experts(request, tags, count, session=session, client=client)
    round_ = 1 + max(
        (r.round for r in help_store.routes_of(request.id, session=session)), default=0
    )
    now = utcnow()
    routes = []
    for expert_id in chosen:
        route_ = help_store.add_route(request, expert_id, round_, now, session=session)
        if route_ is not None:
            expert_store.mark_asked(request.team_id, expert_id, now, session=session)
            routes.append(route_)
    session.commit()
    sent = [
        (route_, *post_dm(client, route_.expert_id, blocks.expert_request(request, tags)))
        for route_ in routes
    ]
    for route_, dm, ts in sent:
        help_store.set_route_message(route_, dm, ts, session=session)
    session.commit()
    logger.info("help request %s routed to %d experts", request.id, len(routes))
    return [route_.expert_id for route_ in routes]


def choose_experts(
    request: HelpRequest,
    tags: list[str],
    count: int,
    *,
    session: Session,
    client: WebClient,
) -> list[str]:
    """The routing policy (this module's docstring): declared experts first; when too few are
    available, colleagues with learned expertise on the tags, strongest evidence first."""
    assert request.id is not None
    asked = {route_.expert_id for route_ in help_store.routes_of(request.id, session=session)}
    excluded = asked | {request.asker_id}
    now = utcnow()
    declared = [
        user_id
        for user_id in expert_store.experts_for_tags(request.team_id, tags, session=session)
        if user_id not in excluded
    ]
    chosen = sorted(
        _available(request.team_id, declared, now, session=session, client=client),
        key=Candidate.sort_key,
    )[:count]
    if len(chosen) < count:
        scores = learned_scores(request.team_id, tags, now, session=session)
        second_line = sorted(
            (user for user in scores if user not in excluded and user not in declared),
            key=lambda user: (-scores[user], user),
        )
        chosen += _available(request.team_id, second_line, now, session=session, client=client)[
            : count - len(chosen)
        ]
    return [candidate.user_id for candidate in chosen]


def _available(
    team_id: str, user_ids: list[str], now: datetime, *, session: Session, client: WebClient
) -> list[Candidate]:
    """The people who may be asked now (not away, not deactivated, not bots), in given order."""
    statuses = expert_store.statuses(team_id, user_ids, session=session)
    load = help_store.recent_route_counts(team_id, user_ids, now - LOAD_WINDOW, session=session)
    session.commit()  # hold no transaction (nor SQLite's one connection) while Slack answers
    candidates = []
    for user_id in user_ids:
        status = statuses.get(user_id)
        if status is not None and status.away_until is not None and status.away_until > now:
            continue
        user = client.users_info(user=user_id)["user"]
        if user.get("deleted") or user.get("is_bot"):
            continue
        candidates.append(
            Candidate(
                user_id=user_id,
                in_working_hours=in_working_hours(user.get("tz"), now),
                recent_load=load.get(user_id, 0),
                last_asked_at=status.last_asked_at if status is not None else None,
                in_dnd=in_do_not_disturb(client, user_id),
            )
        )
    return candidates


def in_do_not_disturb(client: WebClient, user_id: str) -> bool:
    """Snoozed or in scheduled DND; False when the workspace did not grant dnd:read."""
    try:
        dnd = client.dnd_info(user=user_id)
    except SlackApiError as error:
        if error.response.get("error") in ("missing_scope", "not_allowed_token_type"):
            return False
        raise
    return bool(dnd.get("snooze_enabled") or dnd.get("dnd_enabled"))


def in_working_hours(
    tz_name: str | None, now: datetime, *, end_hour: int = WORKDAY_END_HOUR
) -> bool:
    """Monday to Friday, 09:00 to 18:00 (or `end_hour`) in the person's own time zone (UTC
    when unknown)."""
    try:
        local = now.astimezone(ZoneInfo(tz_name or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        local = now
    return local.weekday() < 5 and WORKDAY_START_HOUR <= local.hour < end_hour


def _notify_followers(
    request: HelpRequest, tags: list[str], asked: list[str], *, session: Session, client: WebClient
) -> None:
    followers = expert_store.followers_of(request.team_id, tags, session=session)
    session.commit()  # hold no transaction (nor SQLite's one connection) while Slack answers
    for user_id in followers:
        if user_id == request.asker_id or user_id in asked:
            continue
        post_dm(client, user_id, blocks.follower_notice(request, tags))


def answer_route(
    request_id: int,
    expert_id: str,
    answer: RouteAnswer,
    *,
    session: Session,
    client: WebClient,
) -> HelpRequest | None:
    """An expert's button: take it, not my area, or already answered. Idempotent per expert."""
    request = help_store.get_help_request(request_id, session=session)
    route_ = help_store.get_route(request_id, expert_id, session=session)
    if request is None or route_ is None or route_.answer is not None:
        return None
    now = utcnow()
    help_store.set_route_answer(route_, answer, now, session=session)
    if answer is RouteAnswer.TAKEN and request.status is HelpStatus.OPEN:
        request.status = HelpStatus.CLAIMED
        request.claimed_by = expert_id
    session.add(request)
    session.commit()
    if route_.dm_channel_id and route_.dm_ts:
        reply = blocks.expert_request_answered(request, answer)
        update(client, route_.dm_channel_id, route_.dm_ts, reply)
    if answer is RouteAnswer.TAKEN and request.message_ts:
        notice = blocks.taken_notice(expert_id)
        post(client, request.channel_id, notice, thread_ts=request.message_ts)
    if answer is RouteAnswer.DECLINED and request.status is HelpStatus.OPEN:
        route(request, 1, session=session, client=client)
    return request


def point_to_answer(
    request_id: int, expert_id: str, url: str, *, session: Session, client: WebClient
) -> bool:
    """An expert's link to an existing answer goes in the question's thread and counts as the
    first answer; False when the question is gone or was never theirs to answer."""
    request = help_store.get_help_request(request_id, session=session)
    route_ = help_store.get_route(request_id, expert_id, session=session)
    if request is None or route_ is None or request.message_ts is None:
        return False
    if request.first_answer_at is None:
        request.first_answer_at = utcnow()
        request.first_answerer_id = expert_id
        if request.status in (HelpStatus.OPEN, HelpStatus.CLAIMED):
            request.status = HelpStatus.ANSWERED
        session.add(request)
        session.commit()
    pointer = blocks.answer_pointed(request, expert_id, url)
    post(client, request.channel_id, pointer, thread_ts=request.message_ts)
    return True


def record_thread_reply(
    team_id: str, channel_id: str, thread_ts: str, reply_ts: str, user_id: str, *, session: Session
) -> bool:
    """A reply in a question's thread by someone else is its first answer; True if it was."""
    request = help_store.get_help_request_by_message(
        team_id, channel_id, thread_ts, session=session
    )
    if request is None or user_id == request.asker_id or request.first_answer_at is not None:
        return False
    request.first_answer_at = utcnow()
    request.first_answerer_id = user_id
    request.first_answer_ts = reply_ts
    if request.status in (HelpStatus.OPEN, HelpStatus.CLAIMED):
        request.status = HelpStatus.ANSWERED
    session.add(request)
    session.commit()
    return True


def resolve_by_button(
    request_id: int, user_id: str, *, session: Session, client: WebClient
) -> HelpRequest | None:
    request = help_store.get_help_request(request_id, session=session)
    return _resolve(request, user_id, session=session, client=client)


def resolve_by_reaction(
    team_id: str,
    channel_id: str,
    message_ts: str,
    user_id: str,
    *,
    session: Session,
    client: WebClient,
) -> HelpRequest | None:
    request = help_store.get_help_request_by_message(
        team_id, channel_id, message_ts, session=session
    )
    return _resolve(request, user_id, session=session, client=client)


def _resolve(
    request: HelpRequest | None, user_id: str, *, session: Session, client: WebClient
) -> HelpRequest | None:
    """The asker marks their question resolved; None when it is not theirs or not a question."""
    if request is None or user_id != request.asker_id or request.status is HelpStatus.RESOLVED:
        return None
    assert request.id is not None and request.message_ts is not None
    request.status = HelpStatus.RESOLVED
    request.resolved_at = utcnow()
    request.answerer_id = request.first_answerer_id or request.claimed_by
    session.add(request)
    session.commit()
    if request.status_ts is not None:
        tags = help_store.tags_of(request.id, session=session)
        status = (
            blocks.question_post(request, tags)
            if request.status_ts == request.message_ts
            else blocks.resolved_status(request)
        )
        update(client, request.channel_id, request.status_ts, status)
    if request.first_answer_ts is not None:
        offer = blocks.save_answer_offer(request)
        post(client, request.channel_id, offer, thread_ts=request.message_ts)
    return request


def save_answer_as_til(
    request_id: int,
    user_id: str,
    offer_ts: str,
    response_url: str,
    *,
    session: Session,
    client: WebClient,
) -> Til | None:
    """The accepted answer becomes a TIL linked to its question (asker or answerer only)."""
    request = help_store.get_help_request(request_id, session=session)
    if request is None or request.first_answer_ts is None or request.answer_til_id is not None:
        return None
    if user_id not in (request.asker_id, request.answerer_id):
        tell_privately(response_url, blocks.notice("save_answer_not_allowed"))
        return None
    session.rollback()  # hold no connection while Slack answers
    payload = fetch_message(client, request.channel_id, request.first_answer_ts)
    if payload is None:
        tell_privately(response_url, blocks.notice("save_answer_gone"))
        return None
    message = SlackMessage.from_payload(request.team_id, request.channel_id, payload)
    capture = capture_message(
        message,
        session=session,
        source=TilSource.ANSWER,
        captured_by=user_id,
        workspace=workspace_url(client),
    )
    # Just kept, or kept before (by its author, the capture emoji…): stored either way.
    til = til_store.get_til_by_message(
        request.team_id, request.channel_id, message.ts, session=session
    )
    if til is None:
        return None
    help_store.link_answer_til(request_id, til.id, session=session)
    session.commit()
    update(client, request.channel_id, offer_ts, blocks.answer_saved(user_id))
    if capture.follow_up is not None and capture.follow_up.held:  # after the ack already
        confirm_capture(**capture.follow_up.args, session=session, client=client)
        outbox.done(capture.follow_up.id, session=session)
    return til


def route_held(
    now: datetime,
    *,
    session: Session,
    clients: ClientFor,
    defaults: HelpPolicy,
) -> list[int]:
    """Ask the experts for questions whose suggestion hold is over (and not resolved meanwhile)."""
    routed = []
    for request in help_store.due_for_routing(now, session=session):
        assert request.id is not None
        client = clients(request.team_id)
        if client is None or not help_store.claim_routing(request.id, session=session):
            continue
        session.commit()
        tags = help_store.tags_of(request.id, session=session)
        _ask_first_experts(request, tags, session=session, client=client, defaults=defaults)
        routed.append(request.id)
    return routed


def escalate_due(
    now: datetime,
    *,
    session: Session,
    clients: ClientFor,
    defaults: HelpPolicy,
) -> list[int]:
    """Move every open question whose window has passed one step up; returns their ids.

    Each step is claimed with a conditional UPDATE before anything is sent, so with several
    replicas, or a job run twice, a step happens once.
    """
    escalated = []
    for request in help_store.due_for_escalation(now, session=session):
        assert request.id is not None
        client = clients(request.team_id)
        if client is None:
            continue
        level = request.escalation_level
        policy = for_workspace(request.team_id, defaults, session=session)
        next_at = now + policy.escalation_window if level == 0 else None
        if not help_store.claim_escalation(request.id, level, next_at, session=session):
            continue
        session.commit()
        if level == 0 and route(
            request, policy.experts_per_question, session=session, client=client
        ):
            logger.info("help request %s escalated to more experts", request.id)
        else:
            if level == 0:  # nobody new to ask: skip straight to the team
                help_store.claim_escalation(request.id, 1, None, session=session)
                session.commit()
            _hand_to_team(request, policy.help_channel, session=session, client=client)
        escalated.append(request.id)
    return escalated


def _hand_to_team(
    request: HelpRequest, help_channel: str | None, *, session: Session, client: WebClient
) -> None:
    """Nobody took it: post it in the help channel, or else DM the team's leads."""
    assert request.id is not None
    tags = help_store.tags_of(request.id, session=session)
    reply = blocks.unanswered_question(request, tags)
    if help_channel:
        post(client, help_channel, reply)
        places = 1
    else:
        leads = expert_store.leads(request.team_id, session=session)
        for lead_id in leads:
            post_dm(client, lead_id, reply)
        places = len(leads)
    logger.info("help request %s handed to the team (%d places)", request.id, places)
