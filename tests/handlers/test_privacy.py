"""/learnloop forget-me and export-me: a person's own data, over signed HTTP, on a real database."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, SQLModel, select

from bot import blocks
from bot.emulator import ALICE, BOB, CAROL, ENGINEERING, GENERAL, RANDOM, SlackEmulator
from bot.serve import BackgroundServer
from storage.models import (
    FollowUp,
    HelpRequest,
    HelpRoute,
    HelpStatus,
    MentorPair,
    MentorRound,
    OnboardingEnrolment,
    PairStatus,
    ReflectionDelivery,
    ReflectionRun,
    RouteAnswer,
    Til,
    TilSource,
)
from storage.privacy import FORGOTTEN_USER, REMOVED_TEXT
from storage.types import utcnow
from tests.conftest import eventually, rows_naming
from tests.test_cli import learnloop

# Tables without a column naming a person: nothing in them can be about someone.
NOBODYS_TABLES = {
    "til_tag",
    "help_request_tag",
    "reflection_run",
    "channel_info",
    "summary_digest",
    "workspace",
    "mentor_round",
}
ALICE_TEXTS = (
    "TIL alice's secret about pgbouncer",
    "How do I rotate alice's certs?",
    "alice reflects on pairing",
)


def command(emulator: SlackEmulator, user: str, name: str, text: str) -> str:
    delivery = emulator.slash_command(user, GENERAL, name, text)
    assert delivery.status == 200, delivery.body
    return str(delivery.json().get("text", ""))


def snapshot(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, to show that nothing changed."""
    with engine.connect() as connection:
        return {
            table.name: sorted(tuple(row) for row in connection.execute(table.select()))
            for table in SQLModel.metadata.sorted_tables
        }


def forget_me_question(emulator: SlackEmulator, user: str) -> str:
    """Ask to be forgotten; returns the ts of the private question with its buttons."""
    assert "Forget me?" in command(emulator, user, "/learnloop", "forget-me")
    [question] = [
        message
        for message in emulator.messages(GENERAL, include_ephemeral=True)
        if message.ephemeral_to == user and "Forget me?" in message.text
    ]
    return question.ts


def seed_through_slack(emulator: SlackEmulator, engine: Engine) -> None:
    """Alice in every table that can name a person, through the commands that put her there."""
    alice_til, _ = emulator.post_message(ALICE, GENERAL, f"{ALICE_TEXTS[0]} #postgres")
    bob_til, _ = emulator.post_message(BOB, GENERAL, f"TIL <@{ALICE}|alice> showed me EXPLAIN")
    carol_msg, _ = emulator.post_message(CAROL, GENERAL, "retries need jitter")
    emulator.message_shortcut(ALICE, GENERAL, carol_msg, blocks.SAVE_TIL_SHORTCUT)
    eventually(lambda: len(stored(engine, Til)) == 3, what="three TILs")
    emulator.add_reaction(ALICE, GENERAL, bob_til, "tada")
    emulator.add_reaction(CAROL, GENERAL, alice_til, "tada")
    for name, text in (
        ("/learnloop", f"role <@{BOB}|bob> lead"),
        ("/learnloop", f"role <@{ALICE}|alice> manager"),
        ("/expert", "add #postgres"),
        ("/expert", f"add <@{BOB}|bob> #sql"),
        ("/expert", "follow #k8s"),
        ("/expert", "alias #pg #postgres"),
        ("/expert", "away until 2099-01-01"),
        ("/ask", "settings experts 3"),
        ("/reflect", "schedule weekly fri 16:00 Europe/London"),
        ("/reflect", "mute"),
        ("/reflect", "prompts add alice-set What did alice change?"),
        ("/summary", "subscribe <#C0ENG|engineering> mon 09:00"),
        ("/learnloop", f"onboarding on <#{RANDOM}|random> Ask <@{ALICE}|alice> anything"),
        ("/learnloop", "buddy on"),
        ("/learnloop", "mentor seek #postgres"),
        ("/learnloop", "mentor every 3 weeks"),
    ):
        command(emulator, ALICE, name, text)
    emulator.member_joins(ALICE, RANDOM)
    emulator.member_joins(BOB, RANDOM, inviter=ALICE)
    eventually(lambda: len(stored(engine, OnboardingEnrolment)) == 2, what="both welcomed")
    command(emulator, BOB, "/reflect", "schedule weekly mon 10:00 Europe/London")
    command(emulator, ALICE, "/reflect", "now 1")
    prompt = emulator.wait_for_call(
        "chat.postMessage", lambda c: "Time to reflect" in c.params["text"]
    )
    emulator.post_message(ALICE, GENERAL, ALICE_TEXTS[2], thread_ts=prompt.response["ts"])
    emulator.post_message(
        BOB, GENERAL, f"bob learned from <@{ALICE}>", thread_ts=prompt.response["ts"]
    )
    # Done follow-ups are deleted in batches a moment later: none of the seed's may be left
    # for a count of someone's rows to see now and miss later.
    eventually(lambda: not stored(engine, FollowUp), what="the seed's follow-ups done")
    seed_questions_and_deliveries(engine)


def seed_questions_and_deliveries(engine: Engine) -> None:
    """Rows whose flows take several people and the scheduler: inserted as those flows do."""
    now = utcnow()
    with Session(engine) as session:
        [run] = session.exec(select(ReflectionRun)).all()
        session.add(
            ReflectionDelivery(
                team_id=run.team_id, run_id=run.id, user_id=ALICE, dm_channel_id="D0ALICE"
            )
        )
        team_id = run.team_id
        asked = HelpRequest(
            team_id=team_id,
            channel_id=GENERAL,
            asker_id=ALICE,
            text=ALICE_TEXTS[1],
            message_ts="1700000001.000100",
            status=HelpStatus.RESOLVED,
            first_answerer_id=BOB,
            first_answer_at=now,
            answerer_id=BOB,
            resolved_at=now,
            escalate_at=now + timedelta(hours=1),
        )
        answered = HelpRequest(
            team_id=team_id,
            channel_id=GENERAL,
            asker_id=BOB,
            text=f"Who knows vacuum? cc <@{ALICE}>",
            message_ts="1700000002.000100",
            status=HelpStatus.RESOLVED,
            claimed_by=ALICE,
            first_answerer_id=ALICE,
            first_answer_at=now,
            answerer_id=ALICE,
            resolved_at=now,
        )
        session.add_all([asked, answered])
        session.flush()
        # Her click on Resolved, stored and not yet run when she asks to be forgotten.
        session.add(
            FollowUp(
                team_id=team_id,
                task="help.resolve_by_button",
                args=json.dumps({"request_id": answered.id, "user_id": ALICE}),
            )
        )
        # A mentoring round paired her with bob, and she ended the pairing.
        round_ = MentorRound(team_id=team_id, due_at=now)
        session.add(round_)
        session.flush()
        assert round_.id is not None
        session.add(
            MentorPair(
                team_id=team_id,
                round_id=round_.id,
                mentor_id=BOB,
                seeker_id=ALICE,
                tags="postgres",
                status=PairStatus.ENDED,
                ended_by=ALICE,
                ended_at=now,
            )
        )
        session.add_all(
            [
                HelpRoute(team_id=team_id, help_request_id=asked.id, expert_id=BOB),
                HelpRoute(
                    team_id=team_id,
                    help_request_id=answered.id,
                    expert_id=ALICE,
                    answer=RouteAnswer.TAKEN,
                ),
            ]
        )
        session.commit()


def stored(engine: Engine, model: type[SQLModel]) -> list[SQLModel]:
    with Session(engine) as session:
        return list(session.exec(select(model)))


def counts_naming(engine: Engine, user_id: str) -> dict[str, int]:
    return {table: len(rows) for table, rows in rows_naming(engine, user_id).items()}


def test_forget_me_removes_every_trace_and_leaves_others_alone(
    server: BackgroundServer,
    emulator: SlackEmulator,
    engine: Engine,
    database_url: str,
    tmp_path: Path,
) -> None:
    seed_through_slack(emulator, engine)
    every_table = set(SQLModel.metadata.tables)
    assert set(rows_naming(engine, ALICE)) == every_table - NOBODYS_TABLES, (
        "the seed puts alice in every table that can name a person"
    )
    others = {user: counts_naming(engine, user) for user in (BOB, CAROL)}
    tils_before = len(stored(engine, Til))

    question_ts = forget_me_question(emulator, ALICE)
    clicked = emulator.click_button(ALICE, GENERAL, question_ts, blocks.FORGET_ME_CONFIRM)
    assert clicked.status == 200

    assert rows_naming(engine, ALICE) == {}, "no column of any table names alice any more"
    others[CAROL].pop("til_reaction")  # her reaction to alice's TIL went with the TIL
    assert {user: counts_naming(engine, user) for user in (BOB, CAROL)} == others
    done = emulator.message(GENERAL, question_ts)
    assert "no longer keeps anything about you" in done.text and "til: 1 deleted" in done.text
    assert not any(b["type"] == "actions" for b in done.blocks or []), "the buttons are gone"

    tils = {til.author_id: til for til in stored(engine, Til)}  # type: ignore[attr-defined]
    assert len(tils) == tils_before - 1 and set(tils) == {BOB, CAROL}
    assert tils[BOB].text == f"TIL @{FORGOTTEN_USER} showed me EXPLAIN"
    assert tils[BOB].reaction_count == 0, "alice's reaction no longer counts"
    assert tils[CAROL].captured_by == FORGOTTEN_USER, "a TIL alice saved stays its author's"
    questions = {q.text: q for q in stored(engine, HelpRequest)}  # type: ignore[attr-defined]
    mine = questions[REMOVED_TEXT]
    assert mine.asker_id == FORGOTTEN_USER and mine.answerer_id == BOB
    assert mine.escalate_at is None, "a forgotten question is asked about no more"
    theirs = questions[f"Who knows vacuum? cc @{FORGOTTEN_USER}"]
    assert theirs.asker_id == BOB and theirs.answerer_id == FORGOTTEN_USER
    [pair] = stored(engine, MentorPair)
    assert (pair.mentor_id, pair.seeker_id, pair.ended_by) == (  # type: ignore[attr-defined]
        BOB,
        FORGOTTEN_USER,
        FORGOTTEN_USER,
    ), "bob's pairing history stays, without her"

    exported = learnloop("export", env={"DATABASE_URL": database_url}, cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert ALICE not in exported.stdout
    for text in (*ALICE_TEXTS, "pgbouncer"):
        assert text not in exported.stdout, f"the export still shows {text!r}"
    assert "retries need jitter" in exported.stdout and "bob learned from" in exported.stdout


def test_a_cancel_or_someone_elses_click_changes_nothing(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    with Session(engine) as session:
        session.add(
            Til(
                team_id=emulator.team_id,
                channel_id=GENERAL,
                message_ts="1700000000.000100",
                author_id=ALICE,
                captured_by=ALICE,
                source=TilSource.KEYWORD,
                text="TIL to keep",
            )
        )
        session.commit()
    before = snapshot(engine)
    question_ts = forget_me_question(emulator, ALICE)

    for action_id in (blocks.FORGET_ME_CONFIRM, blocks.FORGET_ME_CANCEL):
        assert emulator.click_button(BOB, GENERAL, question_ts, action_id).status == 200
        assert snapshot(engine) == before, f"bob's {action_id} must change nothing"
    refusals = [r for r in emulator.responses if "Only the person" in r["text"]]
    assert len(refusals) == 2 and not any(r.get("replace_original") for r in refusals)
    assert "Forget me?" in emulator.message(GENERAL, question_ts).text, "still alice's choice"

    emulator.click_button(ALICE, GENERAL, question_ts, blocks.FORGET_ME_CANCEL)
    assert emulator.message(GENERAL, question_ts).text == "Nothing was deleted."
    assert snapshot(engine) == before


def test_export_me_sends_a_json_file_of_ones_own_records_by_dm(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    emulator.post_message(ALICE, GENERAL, f"{ALICE_TEXTS[0]} #postgres")
    emulator.post_message(BOB, ENGINEERING, "TIL bob's private trick")
    command(emulator, ALICE, "/ask", ALICE_TEXTS[1])
    command(emulator, BOB, "/ask", "bob wonders about kafka")
    command(emulator, ALICE, "/reflect", "schedule weekly fri 16:00 Europe/London")
    command(emulator, ALICE, "/reflect", "now")
    prompt = emulator.wait_for_call(
        "chat.postMessage", lambda c: "Time to reflect" in c.params["text"]
    )
    emulator.post_message(ALICE, GENERAL, ALICE_TEXTS[2], thread_ts=prompt.response["ts"])
    emulator.post_message(BOB, GENERAL, "bob reflects too", thread_ts=prompt.response["ts"])
    eventually(lambda: len(stored(engine, HelpRequest)) == 2, what="both questions")

    acked = emulator.slash_command(ALICE, GENERAL, "/learnloop", "export-me")
    assert acked.status == 200 and acked.body == "", "acknowledged at once, answered after"
    [shared] = eventually(lambda: emulator.shared_files(), what="the export's upload")
    assert shared.channel == emulator.open_im(ALICE).id, "sent in alice's DM with the bot"
    assert shared.data is not None
    document = json.loads(shared.data)
    assert document["user_id"] == ALICE
    by_type: dict[str, list[dict[str, object]]] = {}
    for record in document["records"]:
        by_type.setdefault(str(record["type"]), []).append(record)
    assert [til["text"] for til in by_type["til"]] == [f"{ALICE_TEXTS[0]} #postgres"]
    assert [q["text"] for q in by_type["help_request"]] == [ALICE_TEXTS[1]]
    assert [r["text"] for r in by_type["reflection_response"]] == [ALICE_TEXTS[2]]
    assert [s["created_by"] for s in by_type["reflection_schedule"]] == [ALICE]
    assert "bob" not in shared.data.decode() and BOB not in shared.data.decode()
    told = eventually(
        lambda: [r for r in emulator.responses if "everything LearnLoop keeps" in r["text"]],
        what="the private answer",
    )
    assert told[0]["response_type"] == "ephemeral"
