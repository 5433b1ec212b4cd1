"""Full-text search behind one function: SQLite FTS5 (bm25) or a PostgreSQL tsvector
(ts_rank), over any table migrated with a search index (til, help_request)."""

from __future__ import annotations

import json
import re
from itertools import islice

from sqlalchemy import text
from sqlmodel import Session

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_SEARCH_WORDS = 8
# Words too common to say what a question is about ("any word" searches only).
_STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "is",
        "it",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "so",
        "that",
        "the",
        "their",
        "there",
        "this",
        "to",
        "us",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
    ]
)
SEARCHABLE = {"til": "til_fts", "help_request": "help_request_fts"}
# With the workspace in the index, the most recent matches this many are ranked: a word in most
# TILs costs the same as a rarer one, and the best of the latest matches is what people look for.
RANKED_MATCHES = 2000
# On SQLite a word found in more rows than this carries no weight in the ranking. bm25 weighs each
# word by a pass over all its rows (30 ms for a word in most of a million TILs, more than the
# search's budget), and such a word says little anyway: past half the rows bm25 weighs it zero.
WEIGHED_WORD_ROWS = 20_000


def search_words(query: str, *, any_word: bool) -> list[str]:
    words = _WORD.findall(query)
    if any_word:
        words = [word for word in words if word.lower() not in _STOP_WORDS and len(word) > 1]
    return list(dict.fromkeys(words))[:MAX_SEARCH_WORDS]


def matching_ids(
    table: str,
    team_id: str,
    query: str,
    *,
    session: Session,
    limit: int,
    any_word: bool = False,
    where: str = "",
    ranked: int = RANKED_MATCHES,
    weighed_word_rows: int = WEIGHED_WORD_ROWS,
) -> list[int]:
    """Ids of the team's best matches, best first: all words required, or any of them. On
    SQLite, of the latest `ranked` matches, by the words found in at most `weighed_word_rows`
    rows (by recency if there are none).

    The words are extracted here, so user input never reaches a query language as syntax.
    `where` is an extra SQL condition on the table, written by the caller, never user input.
    """
    words = search_words(query, any_word=any_word)
    if not words:
        return []
    extra = f" AND {where}" if where else ""
    if session.get_bind().dialect.name == "sqlite":
        return _sqlite_matching_ids(
            table, team_id, words, session, limit, any_word, extra, ranked, weighed_word_rows
        )
    operator = " | " if any_word else " & "
    sql = text(
        f"SELECT id FROM {table}, to_tsquery('english', :words) AS query "
        f"WHERE team_id = :team_id AND search_vector @@ query{extra} "
        "ORDER BY ts_rank(search_vector, query) DESC, id DESC LIMIT :limit"
    ).bindparams(words=operator.join(words), team_id=team_id, limit=limit)
    return [row[0] for row in session.execute(sql)]


def _sqlite_matching_ids(
    table: str,
    team_id: str,
    words: list[str],
    session: Session,
    limit: int,
    any_word: bool,
    extra: str,
    ranked: int,
    weighed_word_rows: int,
) -> list[int]:
    """bm25 ranks the latest matches in the statement that finds them, unless a word is too
    common to weigh: then they come newest first, reordered by the other words' bm25 (in a
    statement of its own over those rows) if there are any."""
    fts = SEARCHABLE[table]
    joiner = " OR " if any_word else " "
    weighed = [
        w
        for w in words
        if _rows_matching(fts, w, session, weighed_word_rows + 1) <= weighed_word_rows
    ]
    # Both FTS5 tables index team_id (migrations 0007 and 0011): the workspace's id, kept to
    # letters and digits, is matched as a token of its column, which gets no weight in bm25.
    team_token = re.sub(r"[^A-Za-z0-9]", "", team_id)
    match = f'team_id:"{team_token}" AND ({joiner.join(map(_phrase, words))})'
    if len(weighed) == len(words):
        sql = text(
            f"SELECT {table}.id FROM (SELECT rowid, bm25({fts}, 1.0, 0.0) AS score FROM {fts} "
            f"WHERE {fts} MATCH :match ORDER BY rowid DESC LIMIT :ranked) AS hits "
            f"JOIN {table} ON {table}.id = hits.rowid WHERE {table}.team_id = :team_id{extra} "
            f"ORDER BY hits.score, {table}.id DESC LIMIT :limit"
        ).bindparams(match=match, ranked=ranked, team_id=team_id, limit=limit)
        return [row[0] for row in session.execute(sql)]
    # Newest first, read in the index's order: only until `limit` are kept when that is the
    # order, all of the latest `ranked` when the weighed words' bm25 reorders them.
    rows = session.execute(
        text(
            f"SELECT {table}.id, {table}.team_id = :team_id{extra} FROM {fts} "
            f"JOIN {table} ON {table}.id = {fts}.rowid WHERE {fts} MATCH :match "
            f"ORDER BY {fts}.rowid DESC LIMIT :ranked"
        ).bindparams(match=match, ranked=ranked, team_id=team_id)
    )
    with rows:
        newest = (row_id for row_id, kept in rows if kept)
        latest = list(newest if weighed else islice(newest, limit))
    if not weighed or len(latest) <= 1:
        return latest
    scores = dict(
        session.execute(
            text(
                f"SELECT rowid, bm25({fts}, 1.0, 0.0) FROM {fts} WHERE {fts} MATCH :match "
                "AND rowid BETWEEN :first AND :last "
                "AND +rowid IN (SELECT value FROM json_each(:ids))"  # + : a filter, not a lookup
            ).bindparams(
                match=joiner.join(map(_phrase, weighed)),
                first=latest[-1],
                last=latest[0],
                ids=json.dumps(latest),
            )
        ).all()
    )
    return sorted(latest, key=lambda row_id: (scores.get(row_id, 0.0), -row_id))[:limit]


def _phrase(word: str) -> str:
    return f'"{word}"'


def _rows_matching(fts: str, word: str, session: Session, at_most: int) -> int:
    """How many rows hold `word`, counted up to `at_most` (a word's rows are counted in order)."""
    return session.execute(
        text(
            f"SELECT count(*) FROM (SELECT 1 FROM {fts} WHERE {fts} MATCH :word LIMIT :at_most)"
        ).bindparams(word=_phrase(word), at_most=at_most)
    ).scalar_one()
