"""How a workspace routes questions: its own choices over the deployment's defaults."""

from __future__ import annotations

from datetime import timedelta

from slack_sdk import WebClient
from sqlmodel import Session

from bot.roles import require_manager
from bot.settings import HelpPolicy
from storage import workspace_settings as store

MAX_EXPERTS_PER_QUESTION = 10
MAX_ESCALATION_MINUTES = 7 * 24 * 60


def for_workspace(team_id: str, defaults: HelpPolicy, *, session: Session) -> HelpPolicy:
    """The workspace's policy: what its managers set, the deployment's defaults otherwise."""
    saved = store.get_workspace_settings(team_id, session=session)
    if saved is None:
        return defaults
    return HelpPolicy(
        experts_per_question=saved.experts_per_question or defaults.experts_per_question,
        escalation_window=(
            timedelta(minutes=saved.escalation_minutes)
            if saved.escalation_minutes
            else defaults.escalation_window
        ),
        help_channel=saved.help_channel or defaults.help_channel,
    )


def update(
    team_id: str,
    actor_id: str,
    changes: dict[str, int | str],
    defaults: HelpPolicy,
    *,
    session: Session,
    client: WebClient,
    managers: frozenset[str],
) -> HelpPolicy:
    """Managers change experts_per_question, escalation_minutes or help_channel; returns the
    policy now in force. Out-of-range numbers raise ValueError and change nothing."""
    require_manager(team_id, actor_id, session=session, client=client, seeded=managers)
    experts = changes.get("experts_per_question")
    if experts is not None and not 1 <= int(experts) <= MAX_EXPERTS_PER_QUESTION:
        raise ValueError(f"experts per question must be 1 to {MAX_EXPERTS_PER_QUESTION}")
    minutes = changes.get("escalation_minutes")
    if minutes is not None and not 1 <= int(minutes) <= MAX_ESCALATION_MINUTES:
        raise ValueError(f"the escalation window must be 1 to {MAX_ESCALATION_MINUTES} minutes")
    store.update_workspace_settings(team_id, actor_id, changes, session=session)
    session.commit()
    return for_workspace(team_id, defaults, session=session)
