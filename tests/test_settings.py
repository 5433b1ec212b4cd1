"""Configuration: every problem is named in one line, with the fix."""

from __future__ import annotations

import pytest

from bot.settings import (
    DEFAULT_DATABASE_URL,
    DEFAULT_SLACK_API_URL,
    OAuthSettings,
    Settings,
    SettingsError,
)

VALID = {"SLACK_BOT_TOKEN": "xoxb-1-2-abc", "SLACK_SIGNING_SECRET": "secret"}


def test_defaults_apply_when_only_credentials_are_set() -> None:
    settings = Settings.from_env(VALID)
    assert settings.slack_api_url == DEFAULT_SLACK_API_URL
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.port == 3000 and settings.capture_emoji == "bulb"
    assert not settings.socket_mode


def test_values_are_read_and_normalised() -> None:
    settings = Settings.from_env(
        VALID
        | {
            "SLACK_API_URL": "http://127.0.0.1:9999/api",
            "DATABASE_URL": "postgresql+psycopg://u@db:5432/learnloop",
            "PORT": "8080",
            "LEARNLOOP_CAPTURE_EMOJI": ":star:",
            "SLACK_APP_TOKEN": "xapp-1-abc",
        }
    )
    assert settings.slack_api_url == "http://127.0.0.1:9999/api/"
    assert settings.port == 8080 and settings.capture_emoji == "star" and settings.socket_mode


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"SLACK_BOT_TOKEN": ""}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxp-user-token"}, "SLACK_BOT_TOKEN"),
        ({"SLACK_SIGNING_SECRET": " "}, "SLACK_SIGNING_SECRET"),
        ({"SLACK_APP_TOKEN": "xoxb-wrong-kind"}, "SLACK_APP_TOKEN"),
        ({"SLACK_API_URL": "slack.com/api"}, "SLACK_API_URL"),
        ({"DATABASE_URL": "not a url"}, "DATABASE_URL"),
        ({"DATABASE_URL": "mysql://u@h/db"}, "DATABASE_URL"),
        ({"PORT": "eighty"}, "PORT"),
        ({"PORT": "70000"}, "PORT"),
        ({"LEARNLOOP_CAPTURE_EMOJI": "not an emoji!"}, "LEARNLOOP_CAPTURE_EMOJI"),
        ({"LEARNLOOP_WORKER_THREADS": "0"}, "LEARNLOOP_WORKER_THREADS"),
        ({"LEARNLOOP_FOLLOW_UPS": "workers"}, "LEARNLOOP_FOLLOW_UPS"),
        ({"LEARNLOOP_WORKER_POLL_SECONDS": "0"}, "LEARNLOOP_WORKER_POLL_SECONDS"),
        ({"LEARNLOOP_WORKER_POLL_SECONDS": "-1"}, "LEARNLOOP_WORKER_POLL_SECONDS"),
        ({"LEARNLOOP_WORKER_POLL_SECONDS": "soon"}, "LEARNLOOP_WORKER_POLL_SECONDS"),
        ({"LEARNLOOP_WORKER_POLL_SECONDS": "nan"}, "LEARNLOOP_WORKER_POLL_SECONDS"),
    ],
)
def test_bad_settings_name_the_variable(change: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(VALID | change)


def test_follow_ups_run_in_the_serving_process_unless_workers_are_asked_for() -> None:
    default = Settings.from_env(VALID)
    assert default.follow_ups == "serve" and not default.follow_ups_by_workers
    assert default.worker_poll_seconds == 0.2
    split = Settings.from_env(
        VALID | {"LEARNLOOP_FOLLOW_UPS": "Worker", "LEARNLOOP_WORKER_POLL_SECONDS": "0.05"}
    )
    assert split.follow_ups == "worker" and split.follow_ups_by_workers
    assert split.worker_poll_seconds == 0.05


def test_secrets_are_not_shown_in_repr() -> None:
    settings = Settings.from_env(VALID | {"SLACK_APP_TOKEN": "xapp-secret"})
    assert "xoxb-1-2-abc" not in repr(settings) and "secret" not in repr(settings)


def test_socket_mode_needs_no_signing_secret() -> None:
    settings = Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"})
    assert settings.socket_mode and settings.slack_signing_secret == ""


OAUTH = {"SLACK_CLIENT_ID": "123.456", "SLACK_CLIENT_SECRET": "s3cr3t", "SLACK_SIGNING_SECRET": "x"}


def test_client_id_and_secret_install_in_many_workspaces_without_a_bot_token() -> None:
    settings = Settings.from_env(OAUTH | {"LEARNLOOP_PUBLIC_URL": "https://ll.example.com/"})
    assert settings.slack_bot_token is None and settings.oauth is not None
    assert settings.oauth.redirect_uri == "https://ll.example.com/slack/oauth_redirect"
    assert "s3cr3t" not in repr(settings)
    assert Settings.from_env(OAUTH).oauth == OAuthSettings("123.456", "s3cr3t", None)


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        (OAUTH | {"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_BOT_TOKEN and SLACK_CLIENT_ID"),
        (VALID | {"SLACK_CLIENT_ID": "123.456"}, "SLACK_CLIENT_SECRET is not set"),
        (VALID | {"SLACK_CLIENT_SECRET": "s3cr3t"}, "SLACK_CLIENT_ID is not set"),
        (OAUTH | {"SLACK_APP_TOKEN": "xapp-1"}, "needs HTTP mode"),
        (OAUTH | {"LEARNLOOP_PUBLIC_URL": "ll.example.com"}, "LEARNLOOP_PUBLIC_URL"),
    ],
)
def test_oauth_and_a_single_token_are_not_mixed(environ: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(environ)
