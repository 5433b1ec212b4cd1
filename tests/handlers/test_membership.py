"""Channel joins, over signed HTTP: the first join of a channel is kept with its inviter;
rejoins, retries and the bot's own join add nothing."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.emulator import ALICE, BOT_USER_ID, CAROL, ENGINEERING, GENERAL, SlackEmulator, User
from bot.serve import BackgroundServer
from storage.models import MemberJoin


def joins(engine: Engine) -> list[tuple[str, str, str | None]]:
    with Session(engine) as session:
        rows = session.exec(select(MemberJoin).order_by(MemberJoin.id)).all()
        return [(row.channel_id, row.user_id, row.inviter_id) for row in rows]


def test_first_join_of_each_channel_is_kept_once(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    newcomer = emulator.add_user(User(id="U0NEWCOMER", name="nina")).id
    first = emulator.member_joins(newcomer, ENGINEERING, inviter=ALICE)
    assert first.status == 200
    assert joins(engine) == [(ENGINEERING, newcomer, ALICE)]  # stored before the ack

    emulator.deliver_event(emulator.last_envelope["event"], retry_num=1)  # type: ignore[index]
    emulator.member_joins(newcomer, ENGINEERING)  # left and came back
    emulator.member_joins(newcomer, GENERAL)
    emulator.member_joins(CAROL, GENERAL)
    emulator.member_joins(BOT_USER_ID, GENERAL)  # LearnLoop itself is nobody's newcomer
    assert joins(engine) == [
        (ENGINEERING, newcomer, ALICE),
        (GENERAL, newcomer, None),
        (GENERAL, CAROL, None),
    ]
