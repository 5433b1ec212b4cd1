"""The expert directory's rules: who may tag whom, aliases, availability, follows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial

from slack_sdk import WebClient
from sqlmodel import Session

from bot.dates import end_of
from bot.roles import require_lead_or_manager, require_manager
from storage import experts as store

# Learned expertise: evidence fades by half every HALF_LIFE; older than EVIDENCE_HORIZON is
# too faint to matter (under 1%).
HALF_LIFE = timedelta(days=90)
EVIDENCE_HORIZON = HALF_LIFE * 7
EVIDENCE_WEIGHTS = {
    store.EvidenceKind.RESOLVED: 1.0,
    store.EvidenceKind.TIL: 0.5,
    store.EvidenceKind.DECLINED: -1.0,
}
# A directory change for (team, user, tag); True when it changed something.
Change = Callable[[str, str, str], bool]


@dataclass
class DirectoryChange:
    """What a directory command did, for the reply."""

    changed: list[tuple[str, str]] = field(default_factory=list)  # (user, tag)
    unchanged: list[tuple[str, str]] = field(default_factory=list)


def add_experts(
    team_id: str,
    actor_id: str,
    user_ids: list[str],
    tags: list[str],
    *,
    session: Session,
    client: WebClient,
    managers: frozenset[str],
) -> DirectoryChange:
    """Tag people (the actor by default) as experts; tagging others takes a lead or manager."""
    add = partial(store.add_expert, added_by=actor_id, session=session)
    return _change_experts(team_id, actor_id, user_ids, tags, add, session, client, managers)


def remove_experts(
    team_id: str,
    actor_id: str,
    user_ids: list[str],
    tags: list[str],
    *,
    session: Session,
    client: WebClient,
    managers: frozenset[str],
) -> DirectoryChange:
    remove = partial(store.remove_expert, session=session)
    return _change_experts(team_id, actor_id, user_ids, tags, remove, session, client, managers)


def _change_experts(
    team_id: str,
    actor_id: str,
    user_ids: list[str],
    tags: list[str],
    change: Change,
    session: Session,
    client: WebClient,
    managers: frozenset[str],
) -> DirectoryChange:
    targets = user_ids or [actor_id]
    if targets != [actor_id]:
        require_lead_or_manager(team_id, actor_id, session=session, client=client, seeded=managers)
    result = DirectoryChange()
    for tag in store.resolve_aliases(team_id, tags, session=session):
        for user_id in targets:
            done = change(team_id, user_id, tag)
            (result.changed if done else result.unchanged).append((user_id, tag))
    session.commit()
    return result


@dataclass(frozen=True)
class Directory:
    """Declared experts as (tag, user, questions answered); for one tag, also colleagues who
    recently helped or posted TILs on it, strongest evidence first."""

    tag: str | None
    declared: list[tuple[str, str, int]]
    learned: list[tuple[str, float]]


def directory(team_id: str, tag: str | None, now: datetime, *, session: Session) -> Directory:
    if tag is None:
        return Directory(None, store.list_experts(team_id, session=session), [])
    [tag] = store.resolve_aliases(team_id, [tag], session=session)
    declared = store.list_experts(team_id, session=session, tag=tag)
    declared_users = {user for _, user, _ in declared}
    scores = learned_scores(team_id, [tag], now, session=session)
    learned = sorted(
        ((user, score) for user, score in scores.items() if user not in declared_users),
        key=lambda item: (-item[1], item[0]),
    )
    return Directory(tag, declared, learned)


def learned_scores(
    team_id: str, tags: list[str], now: datetime, *, session: Session
) -> dict[str, float]:
    """People with positive evidence on the tags: resolved answers count 1, TILs 0.5, declined
    questions -1, each halving every 90 days."""
    scores: dict[str, float] = {}
    since = now - EVIDENCE_HORIZON
    for user, kind, strength in store.evidence(
        team_id, tags, now, since, HALF_LIFE, session=session
    ):
        scores[user] = scores.get(user, 0.0) + EVIDENCE_WEIGHTS[kind] * strength
    return {user: round(score, 2) for user, score in scores.items() if score > 0}


def add_alias(
    team_id: str,
    actor_id: str,
    alias: str,
    tag: str,
    *,
    session: Session,
    client: WebClient,
    managers: frozenset[str],
) -> None:
    require_manager(team_id, actor_id, session=session, client=client, seeded=managers)
    [canonical] = store.resolve_aliases(team_id, [tag], session=session)
    store.add_alias(team_id, alias, canonical, actor_id, session=session)
    session.commit()


def set_away(team_id: str, user_id: str, until: date | None, *, session: Session) -> datetime:
    """Away through `until` (UTC), or until /expert back; returns when routing resumes."""
    resumes = end_of(until)
    store.set_away(team_id, user_id, resumes, session=session)
    session.commit()
    return resumes


def set_back(team_id: str, user_id: str, *, session: Session) -> None:
    store.set_away(team_id, user_id, None, session=session)
    session.commit()


def follow(team_id: str, user_id: str, tags: list[str], *, session: Session) -> DirectoryChange:
    return _change_follows(team_id, user_id, tags, partial(store.follow, session=session), session)


def unfollow(team_id: str, user_id: str, tags: list[str], *, session: Session) -> DirectoryChange:
    stop = partial(store.unfollow, session=session)
    return _change_follows(team_id, user_id, tags, stop, session)


def _change_follows(
    team_id: str, user_id: str, tags: list[str], change: Change, session: Session
) -> DirectoryChange:
    result = DirectoryChange()
    for tag in store.resolve_aliases(team_id, tags, session=session):
        done = change(team_id, user_id, tag)
        (result.changed if done else result.unchanged).append((user_id, tag))
    session.commit()
    return result
