"""Bolt listeners, one module per feature; each exposes register(app)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers import (
    errors,
    events,
    experts,
    help_requests,
    learnloop,
    membership,
    mentoring,
    reflection,
    summary,
    til,
    workspaces,
)

FEATURES = (
    errors,
    events,
    til,
    experts,
    help_requests,
    reflection,
    summary,
    learnloop,
    mentoring,
    membership,
    workspaces,
)


def register_all(app: AsyncApp) -> None:
    for feature in FEATURES:
        feature.register(app)
