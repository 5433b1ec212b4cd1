"""Every Block Kit message LearnLoop sends is built here, so they look alike and test alike."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from bot import health_report, summary_report
from bot.settings import HelpPolicy
from bot.text import without_markup
from prompts import render
from storage.models import HelpRequest, HelpStatus, MentorPair, PairStatus, RouteAnswer, Til
from storage.summary import PersonalWeek

if TYPE_CHECKING:
    from bot.health import Health
    from bot.mentoring import Overview
    from bot.summary import Summary

Block = dict[str, Any]
Reply = dict[str, Any]  # a message's fields: response_type, text, blocks


class SuggestionLike(Protocol):
    """What the suggestion list shows of a TIL or resolved question (bot.help_requests)."""

    @property
    def text(self) -> str: ...
    @property
    def permalink(self) -> str | None: ...
    @property
    def is_til(self) -> bool: ...


SAVE_TIL_SHORTCUT = "save_til"
HELP_RESOLVE = "help_resolve"
HELP_TAKE = "help_take"
HELP_DECLINE = "help_decline"
HELP_ALREADY_ANSWERED = "help_already_answered"
HELP_SAVE_ANSWER = "help_save_answer"
ANSWER_LINK_VIEW = "help_answer_link"
ANSWER_LINK_BLOCK = "link"
ANSWER_LINK_INPUT = "url"
FORGET_ME_CONFIRM = "forget_me_confirm"
FORGET_ME_CANCEL = "forget_me_cancel"
MENTOR_SKIP = "mentor_skip"
MENTOR_END = "mentor_end"
ROUTE_ANSWERS = {
    HELP_TAKE: RouteAnswer.TAKEN,
    HELP_DECLINE: RouteAnswer.DECLINED,
    HELP_ALREADY_ANSWERED: RouteAnswer.ALREADY_ANSWERED,
}
# Slack rejects section text over 3,000 characters.
MAX_SECTION_TEXT = 3000
SEARCH_SNIPPET_LENGTH = 280

_FAILURE_REASONS = {
    "not_in_channel": "I'm not a member of this channel",
    "channel_not_found": "I can't post in this conversation",
    "is_archived": "this channel is archived",
    "restricted_action": "posting here is restricted",
}


def escape_mrkdwn(text: str) -> str:
    """Escape text that did not come from Slack (Slack already escapes what it sends us)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, MAX_SECTION_TEXT)}}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _tags_note(tags: list[str] | tuple[str, ...]) -> str:
    return " · " + " ".join(f"`#{tag}`" for tag in tags) if tags else ""


def usage(capture_emoji: str) -> list[Block]:
    return [_section(render("til_usage", capture_emoji=capture_emoji))]


def til_post_fallback(author_id: str, text: str) -> str:
    return f"{render('til_posted', author_id=author_id)}: {_clip(text, MAX_SECTION_TEXT)}"


def til_post(author_id: str, text: str, tags: tuple[str, ...]) -> list[Block]:
    """The channel message for a TIL shared with /til, attributed to its author."""
    blocks = [_context(render("til_posted", author_id=author_id)), _section(text)]
    if tags:
        blocks.append(_context(_tags_note(tags).removeprefix(" · ")))
    return blocks


def saved(tags: list[str] | tuple[str, ...]) -> list[Block]:
    return [_section(render("til_saved", tags_note=_tags_note(tags)))]


def saved_not_posted(tags: tuple[str, ...], reason: str) -> list[Block]:
    return [
        _section(render("til_saved_not_posted", tags_note=_tags_note(tags), reason=_why(reason)))
    ]


def _why(reason: str) -> str:
    return _FAILURE_REASONS.get(reason, f"Slack answered `{reason}`")


def notice(name: str, **values: str) -> list[Block]:
    """A one-section message from prompts/ (already saved, errors, confirmations, ...)."""
    return [_section(render(name, **values))]


def lines(name: str, values: list[dict[str, str]]) -> list[Block]:
    """One section of a template rendered once per item (a list of subscriptions, ...)."""
    return [_section("\n".join(render(name, **item) for item in values))]


def search_results(query: str, hits: list[tuple[Til, list[str]]]) -> list[Block]:
    """Results shown only to the searcher: a snippet, author, channel, date, tags, link."""
    if not hits:
        return [_section(render("til_search_no_results", query=query))]
    blocks: list[Block] = [_section(render("til_search_header", query=query))]
    for til, tags in hits:
        snippet = _clip(til.text, SEARCH_SNIPPET_LENGTH)
        link = f" <{til.permalink}|view>" if til.permalink else ""
        blocks.append({"type": "divider"})
        blocks.append(_section(f"{snippet}{link}"))
        blocks.append(
            _context(
                render(
                    "til_search_result_context",
                    author_id=til.author_id,
                    channel_id=til.channel_id,
                    date=til.created_at.strftime("%Y-%m-%d"),
                    tags_note=_tags_note(tags),
                )
            )
        )
    return blocks


def ephemeral(blocks: list[Block]) -> Reply:
    """An answer only its asker sees (an ack's body, or a response_url's): the blocks, and
    their text for notifications and screen readers."""
    return {"response_type": "ephemeral", "text": plain_text(blocks), "blocks": blocks}


def plain_text(blocks: list[Block]) -> str:
    """The notification fallback for a message: its section and context texts."""
    parts: list[str] = []
    for block in blocks:
        if block["type"] == "section":
            parts.append(block["text"]["text"])
        elif block["type"] == "context":
            parts.extend(element["text"] for element in block["elements"])
    return "\n".join(parts)


# -- the expert directory -----------------------------------------------------------------


def _hashtags(tags: list[str] | tuple[str, ...]) -> str:
    return ", ".join(f"`#{tag}`" for tag in tags) or "no tag"


def _pairs(pairs: list[tuple[str, str]]) -> str:
    return ", ".join(f"<@{user}> on `#{tag}`" for user, tag in pairs)


def directory_change(
    changed: list[tuple[str, str]], unchanged: list[tuple[str, str]], *, added: bool
) -> list[Block]:
    lines = []
    if changed:
        lines.append(render("expert_added" if added else "expert_removed", pairs=_pairs(changed)))
    if unchanged:
        lines.append(render("expert_nothing_changed", pairs=_pairs(unchanged)))
    return [_section("\n".join(lines))]


def directory(
    rows: list[tuple[str, str, int]], tag: str | None, learned: list[tuple[str, float]]
) -> list[Block]:
    """Who knows what: declared experts by tag, then (for one tag) who recently helped."""
    tag_note = f" on `#{tag}`" if tag else ""
    if not rows and not learned:
        return [_section(render("expert_list_empty", tag_note=tag_note))]
    people: dict[str, list[str]] = {}
    for row_tag, user_id, answered in rows:
        people.setdefault(row_tag, []).append(f"<@{user_id}> ({answered} answered)")
    lines = [render("expert_list_line", tag=t, people=", ".join(p)) for t, p in people.items()]
    blocks = [_section(render("expert_list_header", tag_note=tag_note))]
    if lines:
        blocks.append(_section("\n".join(lines)))
    if learned:
        helpers = ", ".join(f"<@{user_id}>" for user_id, _ in learned)
        blocks.append(_context(render("expert_list_learned", people=helpers)))
    return blocks


# -- help requests ------------------------------------------------------------------------


def _button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    button: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def question_post(request: HelpRequest, tags: list[str]) -> list[Block]:
    """The question as the channel sees it (from /ask); a Resolved button until it is."""
    blocks = [_context(render("question_title", asker_id=request.asker_id)), _section(request.text)]
    if tags:
        blocks.append(_context(_hashtags(tags)))
    return blocks + _state(request)


def mention_status(request: HelpRequest, asked: list[str], tags: list[str]) -> list[Block]:
    """The thread reply to a question asked by mentioning the bot: who was asked."""
    if asked:
        people = ", ".join(f"<@{user_id}>" for user_id in asked)
        text = render("mention_asked", people=people, tags=_hashtags(tags))
    else:
        text = render("question_no_experts", tags=_hashtags(tags))
    return [_section(text), *_state(request)]


def resolved_status(request: HelpRequest) -> list[Block]:
    return _state(request)


def _state(request: HelpRequest) -> list[Block]:
    if request.status is HelpStatus.RESOLVED:
        answerer = f" thanks to <@{request.answerer_id}>" if request.answerer_id else ""
        return [_context(render("question_resolved", answerer_note=answerer))]
    return [
        {
            "type": "actions",
            "elements": [_button("Resolved", HELP_RESOLVE, str(request.id), "primary")],
        }
    ]


def unrouted(questions: list[tuple[HelpRequest, list[str]]]) -> list[Block]:
    """Open questions nobody was asked about, for managers."""
    if not questions:
        return [_section(render("unrouted_none"))]
    lines = []
    for request, tags in questions:
        link = f"<{request.permalink}|{request.created_at:%Y-%m-%d}>" if request.permalink else ""
        snippet = _clip(request.text, 120)
        lines.append(f"• <@{request.asker_id}> {link} {_hashtags(tags)}: {snippet}")
    return [
        _section(render("unrouted_title", count=str(len(questions)))),
        _section("\n".join(lines)),
    ]


def help_policy(policy: HelpPolicy) -> list[Block]:
    channel = f"<#{policy.help_channel}>" if policy.help_channel else "the team's leads, by DM"
    return [
        _section(
            render(
                "help_settings",
                experts=str(policy.experts_per_question),
                minutes=str(int(policy.escalation_window.total_seconds() // 60)),
                channel=channel,
            )
        )
    ]


def question_not_posted(reason: str) -> list[Block]:
    return [_section(render("question_not_posted", reason=_why(reason)))]


def no_experts(tags: list[str]) -> list[Block]:
    return [_section(render("question_no_experts", tags=_hashtags(tags)))]


def ask_received(tags: tuple[str, ...]) -> list[Block]:
    """The private answer to /ask (its ack): the question is stored, the rest follows."""
    return [_section(render("ask_received", tags_note=_tags_note(tags)))]


def ask_suggestions(request: HelpRequest, suggestions: Sequence[SuggestionLike]) -> list[Block]:
    """ "Maybe already answered", privately to the asker once the question is posted."""
    blocks = [_section(render("ask_suggestions_title"))]
    for suggestion in suggestions:
        kind = "TIL" if suggestion.is_til else "Answered question"
        link = f" <{suggestion.permalink}|open>" if suggestion.permalink else ""
        blocks.append(_section(f"*{kind}:* {_clip(suggestion.text, SEARCH_SNIPPET_LENGTH)}{link}"))
    blocks.append(
        {
            "type": "actions",
            "elements": [_button("That answered it", HELP_RESOLVE, str(request.id), "primary")],
        }
    )
    blocks.append(_context(render("ask_suggestions_hold")))
    return blocks


def _question_card(title: str, request: HelpRequest) -> list[Block]:
    """A question as shown outside its channel: a title, its text, a link to it."""
    blocks = [_section(title), _section(_clip(request.text, SEARCH_SNIPPET_LENGTH * 4))]
    if request.permalink:
        blocks.append(_context(render("expert_request_link", permalink=request.permalink)))
    return blocks


def expert_request(request: HelpRequest, tags: list[str]) -> list[Block]:
    """The DM asking an expert; the buttons carry the question's id."""
    value = str(request.id)
    title = render("expert_request_title", asker_id=request.asker_id, tags=_hashtags(tags))
    return [
        *_question_card(title, request),
        {
            "type": "actions",
            "elements": [
                _button("I'll take it", HELP_TAKE, value, "primary"),
                _button("Not my area", HELP_DECLINE, value),
                _button("Already answered", HELP_ALREADY_ANSWERED, value),
            ],
        },
    ]


_ANSWER_TEXTS = {
    RouteAnswer.TAKEN: "expert_request_taken",
    RouteAnswer.DECLINED: "expert_request_declined",
    RouteAnswer.ALREADY_ANSWERED: "expert_request_already_answered",
}


def expert_request_answered(request: HelpRequest, answer: RouteAnswer) -> list[Block]:
    """The DM once the expert chose: the question stays, the buttons go."""
    return _question_card(render(_ANSWER_TEXTS[answer], asker_id=request.asker_id), request)


def follower_notice(request: HelpRequest, tags: list[str]) -> list[Block]:
    title = render("follower_title", asker_id=request.asker_id, tags=_hashtags(tags))
    return _question_card(title, request)


def unanswered_question(request: HelpRequest, tags: list[str]) -> list[Block]:
    """A question handed to the team's help channel or leads after the escalation windows."""
    title = render("unanswered_title", asker_id=request.asker_id, tags=_hashtags(tags))
    return _question_card(title, request)


def answer_link_modal(request_id: int) -> Block:
    """Asks an expert who clicked "Already answered" where the answer is."""
    return {
        "type": "modal",
        "callback_id": ANSWER_LINK_VIEW,
        "private_metadata": str(request_id),
        "title": {"type": "plain_text", "text": "Where is the answer?"},
        "submit": {"type": "plain_text", "text": "Share"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": ANSWER_LINK_BLOCK,
                "label": {"type": "plain_text", "text": "Link to the answer"},
                "hint": {
                    "type": "plain_text",
                    "text": "A Slack message link, a doc, a wiki page: it goes in the question's "
                    "thread.",
                },
                "element": {"type": "url_text_input", "action_id": ANSWER_LINK_INPUT},
            }
        ],
    }


def answer_pointed(request: HelpRequest, expert_id: str, url: str) -> list[Block]:
    return [
        _section(render("answer_pointed", expert_id=expert_id, asker_id=request.asker_id, url=url))
    ]


def save_answer_offer(request: HelpRequest) -> list[Block]:
    return [
        _section(render("save_answer_offer")),
        {
            "type": "actions",
            "elements": [_button("Save the answer as a TIL", HELP_SAVE_ANSWER, str(request.id))],
        },
    ]


def answer_saved(user_id: str) -> list[Block]:
    return [_section(render("answer_saved", user_id=user_id))]


def taken_notice(expert_id: str) -> list[Block]:
    return [_section(render("taken_notice", expert_id=expert_id))]


# -- reflection ---------------------------------------------------------------------------


def reflection_prompt(prompt: str, set_title: str) -> list[Block]:
    return [
        _context(render("reflection_prompt_title", set_title=set_title)),
        _section(f"*{prompt}*"),
        _context(render("reflection_prompt_footer")),
    ]


def schedules(lines: list[str]) -> list[Block]:
    if not lines:
        return [_section(render("reflect_none"))]
    return [_section("\n".join(lines))]


# -- onboarding ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Welcome:
    """What a newcomer's welcome DM shows (bot.onboarding decides who and what)."""

    user_id: str
    channel_id: str
    about: str
    experts: dict[str, list[str]]  # tag -> people, in the directory's order
    tils: list[Til]
    buddy_id: str | None
    lead_id: str


def onboarding_welcome(welcome: Welcome) -> list[Block]:
    """The about text is the lead's, escaped; experts by tag; TILs linked; the buddy."""
    blocks = [
        _section(
            render("onboarding_welcome", user_id=welcome.user_id, channel_id=welcome.channel_id)
        )
    ]
    if welcome.about:
        blocks.append(_section(render("onboarding_about", about=escape_mrkdwn(welcome.about))))
    if welcome.experts:
        lines = [
            render("onboarding_expert_line", tag=tag, people=", ".join(f"<@{p}>" for p in people))
            for tag, people in welcome.experts.items()
        ]
        blocks.append(_section(render("onboarding_experts", lines="\n".join(lines))))
    if welcome.tils:
        lines = [
            render(
                "onboarding_til_line",
                snippet=_clip(without_markup(til.text), SEARCH_SNIPPET_LENGTH),
                link=f" <{til.permalink}|view>" if til.permalink else "",
                author_id=til.author_id,
            )
            for til in welcome.tils
        ]
        blocks.append(_section(render("onboarding_tils", lines="\n".join(lines))))
    if welcome.buddy_id is not None:
        buddy = render("onboarding_your_buddy", buddy_id=welcome.buddy_id)
    else:
        buddy = render("onboarding_no_buddy_yet", lead_id=welcome.lead_id)
    blocks.append(_section(buddy))
    blocks.append(_context(render("onboarding_prompts_ahead")))
    return blocks


def onboarding_buddy(newcomer_id: str, channel_id: str) -> list[Block]:
    return notice("onboarding_buddy_assigned", user_id=newcomer_id, channel_id=channel_id)


def onboarding_no_buddy(newcomer_id: str, channel_id: str) -> list[Block]:
    return notice("onboarding_lead_no_buddy", user_id=newcomer_id, channel_id=channel_id)


def onboarding_prompt(
    prompt: str, set_title: str, number: int, total: int, *, shared_with: list[str]
) -> list[Block]:
    """A week-1 prompt by DM; the first says who sees the answers."""
    blocks = [
        _context(
            render("onboarding_prompt_title", set_title=set_title, number=number, total=total)
        ),
        _section(f"*{prompt}*"),
    ]
    if number == 1 and shared_with:
        people = " and ".join(f"<@{person}>" for person in shared_with)
        blocks.append(_context(render("onboarding_prompt_shared", people=people)))
    else:
        blocks.append(_context(render("onboarding_prompt_footer")))
    return blocks


def onboarding_answer(newcomer_id: str, channel_id: str, prompt: str, answer: str) -> list[Block]:
    """A newcomer's answer, for their buddy and lead."""
    quoted = "\n".join(f"> {line}" for line in answer.splitlines() or [""])
    return [
        _section(
            render(
                "onboarding_answer_shared",
                user_id=newcomer_id,
                channel_id=channel_id,
                prompt=prompt,
            )
        ),
        _section(quoted),
    ]


def onboarding_channels(channels: list[tuple[str, str]]) -> list[Block]:
    """(channel, lead) for each channel where onboarding is on."""
    if not channels:
        return notice("onboarding_none")
    return lines(
        "onboarding_channel_line",
        [{"channel_id": channel, "lead_id": lead} for channel, lead in channels],
    )


# -- your data ----------------------------------------------------------------------------


def forget_me_confirmation(user_id: str) -> list[Block]:
    """What /learnloop forget-me will do, and the buttons; only `user_id`'s click counts."""
    return [
        _section(render("forget_me_confirm")),
        {
            "type": "actions",
            "elements": [
                _button("Forget me", FORGET_ME_CONFIRM, user_id, "danger"),
                _button("Cancel", FORGET_ME_CANCEL, user_id),
            ],
        },
    ]


def forgotten(report_lines: list[str]) -> list[Block]:
    details = "\n".join(f"• `{line}`" for line in report_lines) or render("forget_me_nothing")
    return [_section(render("forget_me_done", details=details))]


# -- summaries ----------------------------------------------------------------------------

SLACK_STYLE = summary_report.Style(
    bold=lambda text: f"*{text}*",
    link=lambda text, url: f"<{url}|{text}>" if url else text,
    user=lambda user_id: f"<@{user_id}>",
    channel=lambda channel_id: f"<#{channel_id}>",
    escape=lambda slack_text: slack_text,
)


def summary(figures: Summary) -> list[Block]:
    """A summary as one section per part; shown privately, posted as a digest, on App Home."""
    return _report(
        f":bar_chart: {summary_report.title(figures, SLACK_STYLE)}",
        summary_report.period(figures),
        summary_report.sections(figures, SLACK_STYLE),
    )


def health(figures: Health) -> list[Block]:
    """Community health, shown privately to a manager and on their App Home."""
    return _report(
        f":seedling: {health_report.title(figures, SLACK_STYLE)}",
        health_report.period(figures),
        health_report.sections(figures, SLACK_STYLE),
    )


def _report(title: str, period: str, parts: list[summary_report.Section]) -> list[Block]:
    blocks: list[Block] = [_section(f"*{title}*"), _context(period)]
    for part in parts:
        lines = "\n".join(f"• {line}" for line in part.lines)
        blocks += [{"type": "divider"}, _section(f"*{part.title}*\n{lines}")]
    return blocks


def note(name: str, **values: str) -> list[Block]:
    """A small-print line from prompts/ under a message (a hint, a pointer)."""
    return [_context(render(name, **values))]


def home(user_id: str, week: str, mine: PersonalWeek, team: tuple[Summary, Health] | None) -> Block:
    """The App Home tab: the person's own week, and the team's figures and community health
    for managers."""
    blocks: list[Block] = [_section(f"*{render('home_title', week=week)}*")]
    if mine.til_count or mine.answers or mine.reflections:
        blocks.append(
            _section(
                render(
                    "home_mine",
                    tils=summary_report.plural(mine.til_count, "TIL"),
                    answers=summary_report.plural(mine.answers, "first answer"),
                    reflections=summary_report.plural(mine.reflections, "reflection"),
                )
            )
        )
    else:
        blocks.append(_section(render("home_nothing")))
    for til in mine.tils:
        text = _clip(without_markup(til.text), SEARCH_SNIPPET_LENGTH)
        link = f" <{til.permalink}|view>" if til.permalink else ""
        blocks.append(_context(f"{text}{link} · <#{til.channel_id}>"))
    if team is not None:
        figures, community = team
        blocks += [{"type": "divider"}, _section(f"*{render('home_team_title')}*")]
        blocks += summary(figures)
        blocks += [{"type": "divider"}, _section(f"*{render('home_health_title')}*")]
        blocks += health(community)
    return {"type": "home", "blocks": blocks}


# -- mentoring ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Topic:
    """A first topic for a mentoring pair: "question" (the seeker's), "til" (the mentor's) or
    "generic"."""

    kind: str
    text: str = ""
    permalink: str | None = None


def mentor_pair(pair: MentorPair, topic: Topic) -> list[Block]:
    """The intro in the pair's group DM; Skip and End buttons while the pair is active."""
    people = {"mentor_id": pair.mentor_id, "seeker_id": pair.seeker_id}
    tags = _hashtags(pair.tags.split())
    blocks = [
        _section(render("mentor_intro", tags=tags, **people)),
        _section(_topic(topic, tags, people)),
    ]
    if pair.status is PairStatus.ACTIVE:
        value = str(pair.id)
        blocks += [
            _context(render("mentor_intro_footer")),
            {
                "type": "actions",
                "elements": [
                    _button("Skip this round", MENTOR_SKIP, value),
                    _button("End pairing", MENTOR_END, value, "danger"),
                ],
            },
        ]
    else:
        blocks.append(_context(render(f"mentor_pair_{pair.status.value}", user_id=pair.ended_by)))
    return blocks


def _topic(topic: Topic, tags: str, people: dict[str, str]) -> str:
    if topic.kind == "generic":
        return render("mentor_topic_generic", tags=tags)
    snippet = _clip(without_markup(topic.text), SEARCH_SNIPPET_LENGTH)
    link = f" <{topic.permalink}|open>" if topic.permalink else ""
    return render(f"mentor_topic_{topic.kind}", text=snippet, link=link, **people)


def mentor_overview(user_id: str, overview: Overview) -> list[Block]:
    """`/learnloop mentor`: what the person offers and seeks, their pairs, the rhythm."""
    nothing = render("mentor_nothing_yet")
    lines = [
        render("mentor_offers", tags=_hashtags(overview.offers) if overview.offers else nothing),
        render("mentor_seeks", tags=_hashtags(overview.seeks) if overview.seeks else nothing),
    ]
    for pair in overview.pairs:
        mentoring = pair.mentor_id == user_id
        lines.append(
            render(
                "mentor_pair_as_mentor" if mentoring else "mentor_pair_as_seeker",
                user_id=pair.seeker_id if mentoring else pair.mentor_id,
                tags=_hashtags(pair.tags.split()),
                where=f" in <#{pair.channel_id}>" if pair.channel_id else "",
            )
        )
    if not overview.pairs:
        lines.append(render("mentor_no_pairs"))
    return [_section("\n".join(lines)), _context(mentor_rhythm(overview))]


def mentor_rhythm(overview: Overview) -> str:
    """How often rounds are formed, whether across teams, and when the next one is."""
    return render(
        "mentor_rhythm",
        weeks=str(overview.rhythm.every_weeks),
        scope=render("mentor_cross_team" if overview.rhythm.cross_team else "mentor_same_team"),
        next_round=(
            f"{overview.next_round:%a %d %b %Y, %H:%M} UTC"
            if overview.next_round is not None
            else "after the first sign-up"
        ),
    )


def mentor_signed_up(side: str, tags: list[str], overview: Overview) -> list[Block]:
    return [
        _section(render(f"mentor_signed_up_{side}", tags=_hashtags(tags))),
        _context(mentor_rhythm(overview)),
    ]


def mentor_rhythm_set(overview: Overview) -> list[Block]:
    return [_section(render("mentor_rhythm_set", rhythm=mentor_rhythm(overview)))]
