"""/learnloop: roles, granted by managers only, and the list of every command."""

from __future__ import annotations

from pathlib import Path

import yaml
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.emulator import ALICE, BOB, CAROL, GENERAL, SlackEmulator
from bot.serve import BackgroundServer
from storage.models import MemberRole, Role

MANIFEST = yaml.safe_load((Path(__file__).parents[2] / "manifest.yml").read_text())


def learnloop(emulator: SlackEmulator, user: str, text: str) -> str:
    reply = emulator.slash_command(user, GENERAL, "/learnloop", text).json()
    assert reply["response_type"] == "ephemeral"
    return str(reply["text"])


def roles(engine: Engine) -> dict[str, Role]:
    with Session(engine) as session:
        return {row.user_id: row.role for row in session.exec(select(MemberRole))}


def test_managers_grant_and_take_back_roles(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    assert "is now a *lead*" in learnloop(emulator, ALICE, f"role <@{BOB}|bob> lead")
    assert roles(engine) == {BOB: Role.LEAD}
    # a lead may now tag others as experts
    tagged = emulator.slash_command(BOB, GENERAL, "/expert", f"add <@{CAROL}|carol> #sql").json()
    assert "Added" in tagged["text"]
    learnloop(emulator, ALICE, f"role <@{BOB}|bob> manager")
    assert roles(engine) == {BOB: Role.MANAGER}
    learnloop(emulator, ALICE, f"role <@{BOB}|bob> member")
    assert roles(engine) == {}


def test_only_managers_grant_roles_and_bad_input_gets_usage(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    assert "Only a community manager" in learnloop(emulator, BOB, f"role <@{BOB}|bob> manager")
    for text in ("role", f"role <@{BOB}|bob>", f"role <@{BOB}|bob> king", "role bob lead"):
        assert "Usage" in learnloop(emulator, ALICE, text), text
    assert roles(engine) == {}


def test_help_lists_every_command(server: BackgroundServer, emulator: SlackEmulator) -> None:
    listing = learnloop(emulator, CAROL, "help")
    assert learnloop(emulator, CAROL, "") == listing
    for command in MANIFEST["features"]["slash_commands"]:
        assert f"`{command['command']}" in listing, command["command"]
