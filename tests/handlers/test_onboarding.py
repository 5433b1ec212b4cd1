"""Social onboarding, over signed HTTP through the emulator: leads turn it on, a newcomer's
first join brings the welcome DM (about, experts, TILs, buddy), the buddy is told, and the
week-1 prompts go out by DM from the sweep, answers reaching buddy and lead."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from bot import onboarding
from bot.emulator import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    ENGINEERING,
    GENERAL,
    Channel,
    Message,
    SlackEmulator,
    User,
)
from bot.jobs import run_onboarding_prompts
from bot.runtime import Runtime
from bot.serve import BackgroundServer
from bot.settings import Settings
from prompts.prompt_sets import load_prompt_sets
from storage.models import FollowUp, OnboardingChannel, OnboardingEnrolment, Til
from storage.types import utcnow
from tests.conftest import eventually

SECOND = timedelta(seconds=1)
ENG = f"<#{ENGINEERING}|engineering>"
TEAM = "C0TEAM"


def learnloop(emulator: SlackEmulator, user: str, text: str) -> str:
    """Run /learnloop as `user`; the private answer's text."""
    delivery = emulator.slash_command(user, GENERAL, "/learnloop", text)
    assert delivery.status == 200, delivery.body
    reply = delivery.json()
    assert reply["response_type"] == "ephemeral", "onboarding answers are private"
    return str(reply["text"])


def dms(emulator: SlackEmulator, user: str, containing: str) -> list[Message]:
    """The bot's DMs to `user` whose text contains `containing`."""
    return [
        message
        for message in emulator.messages(emulator.open_im(user).id)
        if message.user == emulator.bot_user_id and containing in message.text
    ]


def welcome_of(emulator: SlackEmulator, user: str) -> str:
    [welcome] = eventually(lambda: dms(emulator, user, "Welcome to"), what=f"{user}'s welcome")
    return welcome.text


def newcomer(emulator: SlackEmulator, user_id: str, tz: str, *, deleted: bool = False) -> str:
    return emulator.add_user(User(user_id, user_id.lower(), tz=tz, deleted=deleted)).id


def enrolments(engine: Engine) -> list[OnboardingEnrolment]:
    with Session(engine) as session:
        return list(session.exec(select(OnboardingEnrolment).order_by(OnboardingEnrolment.id)))


def test_the_welcome_dm_shows_about_experts_tils_and_the_buddy(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    answer = learnloop(emulator, ALICE, f"onboarding on {ENG} Where we build & ship <the> API")
    assert f"Onboarding is on in <#{ENGINEERING}>" in answer
    learnloop(emulator, BOB, "buddy on")
    for user, text in (
        (BOB, "add #postgres"),
        (CAROL, "add #k8s"),
        (DAVE, "add #postgres"),
        (DAVE, "away"),
        (ALICE, "add #rust"),  # no TIL or question of the channel is on #rust
    ):
        emulator.slash_command(user, GENERAL, "/expert", text)
    posted = [
        emulator.post_message(author, ENGINEERING, f"TIL number {n} #postgres")[0]
        for n, author in enumerate((BOB, CAROL, BOB, CAROL, BOB, CAROL, BOB))
    ]
    emulator.post_message(CAROL, ENGINEERING, "TIL pods restart on OOM #k8s")
    emulator.post_message(ALICE, GENERAL, "TIL elsewhere #rust")
    tils = eventually(lambda: linked_tils(engine), what="every TIL kept with its permalink")
    assert len(tils) == 9
    reactions = {1: (ALICE, CAROL), 4: (ALICE,), 2: (ALICE,), 0: (ALICE, BOB, CAROL)}
    for n, people in reactions.items():
        for person in people:
            emulator.add_reaction(person, ENGINEERING, posted[n], "tada")
    with Session(engine) as session:  # number 0 is the most liked, but from last year
        session.execute(
            update(Til)
            .where(col(Til.message_ts) == posted[0])
            .values(created_at=utcnow() - timedelta(days=181))
        )
        session.commit()

    nina = newcomer(emulator, "U0NINA", "Europe/London")
    assert emulator.member_joins(nina, ENGINEERING, inviter=ALICE).status == 200
    welcome = welcome_of(emulator, nina)

    assert f"Welcome to <#{ENGINEERING}>, <@{nina}>" in welcome
    assert "Where we build &amp; ship &lt;the&gt; API" in welcome, "the about text, escaped"
    assert f"`#postgres`: <@{BOB}>" in welcome and f"`#k8s`: <@{CAROL}>" in welcome
    assert f"<@{DAVE}>" not in welcome, "dave is away"
    assert "#rust" not in welcome, "only the tags of the channel's TILs and questions"
    permalink = {til.message_ts: til.permalink for til in tils}
    # Most reactions first (1: two), then the newest of those with one (4, 2), then the newest.
    expected = [1, 4, 2, None, 6]
    lines = [line for line in welcome.splitlines() if line.startswith("• TIL")]
    assert len(lines) == 5, welcome
    for line, n in zip(lines, expected, strict=True):
        if n is None:
            assert "TIL pods restart on OOM" in line and f"<@{CAROL}>" in line
        else:
            assert f"TIL number {n} " in line and f"<{permalink[posted[n]]}|view>" in line
    assert "TIL elsewhere" not in welcome and "TIL number 0" not in welcome
    assert f"Your onboarding buddy is <@{BOB}>" in welcome
    [told] = eventually(lambda: dms(emulator, BOB, "onboarding buddy of"), what="bob's DM")
    assert f"<@{nina}>" in told.text and f"<#{ENGINEERING}>" in told.text


def linked_tils(engine: Engine) -> list[Til] | None:
    """The TILs, once each has its permalink (fetched after the ack)."""
    with Session(engine) as session:
        tils = list(session.exec(select(Til).order_by(Til.id)))
    return tils if all(til.permalink for til in tils) else None


def test_the_buddy_overlaps_working_hours_then_was_chosen_least_recently(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    # Zones without daylight saving, so the overlaps hold whatever the date: Tokyo's working
    # day overlaps Singapore's by 7 hours, Dubai's by 3, Sao Paulo's by none.
    volunteers = {
        "U0DXB": "Asia/Dubai",
        "U0SGP": "Asia/Singapore",
        "U0SAO": "America/Sao_Paulo",
        "U0AAWAY": "Asia/Tokyo",  # away
        "U0AERIN": "Asia/Tokyo",  # not in the channel
        "U0AGONE": "Asia/Tokyo",  # deactivated
    }
    for user_id, tz in volunteers.items():
        newcomer(emulator, user_id, tz)
        learnloop(emulator, user_id, "buddy on")
    emulator.slash_command("U0AAWAY", GENERAL, "/expert", "away")
    newcomer(emulator, "U0AGONE", "Asia/Tokyo", deleted=True)
    members = frozenset(set(volunteers) - {"U0AERIN"} | {ALICE, emulator.bot_user_id})
    emulator.add_channel(Channel(TEAM, "team", members=members))
    learnloop(emulator, ALICE, f"onboarding on <#{TEAM}|team>")

    chosen = []
    for n, tz in enumerate(("Asia/Tokyo",) * 3 + ("America/Sao_Paulo",)):
        joining = newcomer(emulator, f"U0NEW{n}", tz)
        emulator.member_joins(joining, TEAM)
        welcome = welcome_of(emulator, joining)
        [enrolment] = [e for e in enrolments(engine) if e.user_id == joining]
        assert f"Your onboarding buddy is <@{enrolment.buddy_id}>" in welcome
        chosen.append(enrolment.buddy_id)
    # Never chosen before, by id; then the one never chosen; then the least recently chosen;
    # Sao Paulo's volunteer only for the newcomer in Sao Paulo, though never chosen before.
    assert chosen == ["U0DXB", "U0SGP", "U0DXB", "U0SAO"]


def test_without_a_volunteer_the_welcome_says_so_and_the_lead_is_told(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    learnloop(emulator, ALICE, f"onboarding on {ENG}")
    nina = newcomer(emulator, "U0NINA", "Europe/London")
    learnloop(emulator, nina, "buddy on")  # the newcomer is never their own buddy
    learnloop(emulator, DAVE, "buddy on")  # not a member of #engineering
    learnloop(emulator, CAROL, "buddy on")
    learnloop(emulator, CAROL, "buddy off")
    emulator.member_joins(nina, ENGINEERING)
    welcome = welcome_of(emulator, nina)
    assert "No onboarding buddy is free just now" in welcome and f"<@{ALICE}>" in welcome
    [told] = eventually(lambda: dms(emulator, ALICE, "no onboarding buddy"), what="the lead")
    assert f"<@{nina}> just joined <#{ENGINEERING}>" in told.text
    assert [e.buddy_id for e in enrolments(engine)] == [None]


def test_onboarding_commands_are_for_leads_and_wrong_words_get_usage(
    server: BackgroundServer, emulator: SlackEmulator, engine: Engine
) -> None:
    for text in (f"onboarding on {ENG}", f"onboarding off {ENG}", f"onboarding about {ENG} x"):
        assert "Only a team lead or community manager" in learnloop(emulator, BOB, text)
    assert "not on in any channel" in learnloop(emulator, BOB, "onboarding")
    listed = learnloop(emulator, BOB, "help")
    assert "/learnloop onboarding on|off #channel" in listed and "/learnloop buddy on|off" in listed
    for text in (
        "onboarding on",
        "onboarding on engineering",
        f"onboarding about {ENG}",
        f"onboarding off {ENG} now",
        f"onboarding maybe {ENG}",
        "buddy",
        "buddy maybe",
    ):
        assert "Usage" in learnloop(emulator, ALICE, text), text
    with Session(engine) as session:
        assert session.exec(select(OnboardingChannel)).all() == []

    learnloop(emulator, ALICE, f"role <@{BOB}|bob> lead")
    assert "Onboarding is on" in learnloop(emulator, BOB, f"onboarding on {ENG}")
    assert f"<#{ENGINEERING}>, turned on by <@{BOB}>" in learnloop(emulator, CAROL, "onboarding")
    changed = learnloop(emulator, BOB, f"onboarding about {ENG} Our *platform* team")
    assert "Our *platform* team" in changed
    assert "was not on" in learnloop(emulator, BOB, f"onboarding about <#{GENERAL}|general> x")
    assert "Onboarding is off" in learnloop(emulator, ALICE, f"onboarding off {ENG}")
    assert "was not on" in learnloop(emulator, ALICE, f"onboarding off {ENG}")


def test_no_welcome_where_onboarding_is_off_and_one_for_retries_and_rejoins(
    server: BackgroundServer, settings: Settings, emulator: SlackEmulator, engine: Engine
) -> None:
    learnloop(emulator, ALICE, f"onboarding on {ENG}")
    learnloop(emulator, ALICE, f"onboarding off {ENG}")
    nina = newcomer(emulator, "U0NINA", "Europe/London")
    emulator.member_joins(nina, ENGINEERING)
    emulator.member_joins(nina, GENERAL)  # never on there
    with Session(engine) as session:
        assert session.exec(select(FollowUp)).all() == [], "no welcome promised with the joins"
    assert enrolments(engine) == []

    learnloop(emulator, ALICE, f"onboarding on {ENG}")
    omar = newcomer(emulator, "U0OMAR", "Europe/London")
    emulator.member_joins(omar, ENGINEERING)
    emulator.deliver_event(emulator.last_envelope["event"], retry_num=1)  # type: ignore[index]
    welcome_of(emulator, omar)
    emulator.member_joins(omar, ENGINEERING)  # left and came back
    runtime = Runtime(settings)  # and the outbox replays the welcome: nothing more is sent
    try:
        runtime.call_sync(
            onboarding.welcome,
            token=emulator.bot_token,
            team_id=emulator.team_id,
            channel_id=ENGINEERING,
            user_id=omar,
        )
    finally:
        runtime.close()
    eventually(lambda: not stored_follow_ups(engine) or None, what="every promised welcome done")
    assert len(dms(emulator, omar, "Welcome to")) == 1
    assert len(enrolments(engine)) == 1


def stored_follow_ups(engine: Engine) -> list[FollowUp]:
    with Session(engine) as session:
        return list(session.exec(select(FollowUp)))


def test_week_one_prompts_go_once_each_working_day_and_answers_reach_buddy_and_lead(
    server: BackgroundServer, settings: Settings, emulator: SlackEmulator, engine: Engine
) -> None:
    learnloop(emulator, ALICE, f"onboarding on {ENG}")
    learnloop(emulator, BOB, "buddy on")
    nina = newcomer(emulator, "U0NINA", "Asia/Kolkata")
    emulator.member_joins(nina, ENGINEERING)
    assert "your time" in welcome_of(emulator, nina)
    prompts = load_prompt_sets()[onboarding.WEEK_ONE_SET].prompts
    runtime = Runtime(settings)
    try:
        [enrolment] = enrolments(engine)
        first_at = enrolment.next_prompt_at
        assert first_at is not None
        assert run_onboarding_prompts(runtime, first_at - SECOND) == [], "not due yet"
        assert run_onboarding_prompts(runtime, first_at + SECOND) == [enrolment.id]
        assert run_onboarding_prompts(runtime, first_at + SECOND) == [], "sent once"
        [first] = dms(emulator, nina, prompts[0])
        assert "(1 of 10)" in first.text
        assert f"shared with <@{BOB}> and <@{ALICE}>" in first.text

        emulator.post_message(nina, emulator.open_im(nina).id, "Bob showed me the deploy script")
        for reader in (BOB, ALICE):
            [shared] = eventually(
                lambda r=reader: dms(emulator, r, "Bob showed me the deploy script"),
                what=f"the answer in {reader}'s DM",
            )
            assert f"<@{nina}>" in shared.text and prompts[0] in shared.text

        sent_at = [first_at]
        while (due := enrolments(engine)[0].next_prompt_at) is not None:
            assert run_onboarding_prompts(runtime, due + SECOND) == [enrolment.id]
            sent_at.append(due)
    finally:
        runtime.close()
    local = [moment.astimezone(ZoneInfo("Asia/Kolkata")) for moment in sent_at]
    assert len(local) == 10, "ten prompts, then no more"
    assert all(day.weekday() < 5 and (day.hour, day.minute) == (10, 0) for day in local)
    assert len({day.date() for day in local}) == 10, "one each working day"
    assert (local[-1].date() - local[0].date()).days < 14, "within the first two weeks"
    for n, prompt in enumerate(prompts):
        [sent] = dms(emulator, nina, prompt)
        assert f"({n + 1} of 10)" in sent.text


def test_a_muted_newcomer_gets_no_prompts(
    server: BackgroundServer, settings: Settings, emulator: SlackEmulator, engine: Engine
) -> None:
    learnloop(emulator, ALICE, f"onboarding on {ENG}")
    nina = newcomer(emulator, "U0NINA", "Europe/London")
    emulator.member_joins(nina, ENGINEERING)
    welcome_of(emulator, nina)
    emulator.slash_command(nina, GENERAL, "/reflect", "mute")
    [enrolment] = enrolments(engine)
    assert enrolment.next_prompt_at is not None
    runtime = Runtime(settings)
    try:
        assert run_onboarding_prompts(runtime, enrolment.next_prompt_at + SECOND) == []
    finally:
        runtime.close()
    assert dms(emulator, nina, "(1 of 10)") == []
    assert enrolments(engine)[0].prompts_sent == 1, "the muted day's prompt is skipped"
