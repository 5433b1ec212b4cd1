"""Full-text search behind one function: SQLite FTS5 (bm25) or a PostgreSQL tsvector
(ts_rank), over any table migrated with a search index (til, help_request)."""

from __future__ import annotations

import re

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
# TILs costs the same as a rarer one (bm25 is about 2 µs a row), and the best of the latest
# matches is what people look for.
RANKED_MATCHES = 2000


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
) -> list[int]:
    """Ids of the team's best matches, best first: all words required, or any of them. On
    SQLite, of the latest `ranked` matches.

    The words are extracted here, so user input never reaches a query language as syntax.
    `where` is an extra SQL condition on the table, written by the caller, never user input.
    """
    words = search_words(query, any_word=any_word)
    if not words:
        return []
    extra = f" AND {where}" if where else ""
    if session.get_bind().dialect.name == "sqlite":
        fts = SEARCHABLE[table]
        match = (" OR " if any_word else " ").join(f'"{word}"' for word in words)
        # Both FTS5 tables index team_id (migrations 0007 and 0011): the workspace's id, kept to
        # letters and digits, is matched as a token of its column, which gets no weight in bm25.
        sql = text(
            f"SELECT {table}.id FROM (SELECT rowid, bm25({fts}, 1.0, 0.0) AS score "
            f"FROM {fts} WHERE {fts} MATCH :match ORDER BY rowid DESC LIMIT :ranked) AS hits "
            f"JOIN {table} ON {table}.id = hits.rowid WHERE {table}.team_id = :team_id{extra} "
            f"ORDER BY hits.score, {table}.id DESC LIMIT :limit"
        ).bindparams(
            match=f'team_id:"{re.sub(r"[^A-Za-z0-9]", "", team_id)}" AND ({match})',
            ranked=ranked,
            team_id=team_id,
            limit=limit,
        )
    else:
        operator = " | " if any_word else " & "
        sql = text(
            f"SELECT id FROM {table}, to_tsquery('english', :words) AS query "
            f"WHERE team_id = :team_id AND search_vector @@ query{extra} "
            "ORDER BY ts_rank(search_vector, query) DESC, id DESC LIMIT :limit"
        ).bindparams(words=operator.join(words), team_id=team_id, limit=limit)
    return [row[0] for row in session.execute(sql)]
