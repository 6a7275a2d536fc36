"""Substring search over account and service, pushed down to an index on each store.

SQLite: an FTS5 table with the trigram tokenizer (`connection_fts`, kept in step by triggers,
created by the migrations) answers any substring of three or more characters. PostgreSQL:
GIN pg_trgm indexes on `account` and `service` serve ILIKE '%x%'. A two-character needle is
looked up through the trigrams that hold it (`pair_hits`; when they hold more rows than a
count's cap, a count of it alone asks those that end with it: `over_cap_by_pairs`). Other
short needles fall back to a scan, which is still bounded by the other filters and the page
limit; on SQLite it also spells out the cases of non-ASCII letters, which SQLite's LIKE does
not fold.
"""

import json
import string
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    Boolean,
    ColumnElement,
    Integer,
    String,
    Text,
    and_,
    any_,
    bindparam,
    cast,
    column,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    table,
    text,
    union,
    union_all,
)
from sqlalchemy.engine import Connection as SqlConnection
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import Select
from sqlalchemy.sql.compiler import Compiled
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.selectable import Join
from sqlalchemy.sql.util import ClauseAdapter
from sqlmodel import Session, col

from connmodel.errors import InvalidInput
from connmodel.models import ODD_TEXT, Connection
from connmodel.paging import COUNT_CAP, CappedCount, capped_count, with_values
from connmodel.store import plan_for_values

SEARCH_MAX = 200
FEW_HITS = COUNT_CAP  # PostgreSQL: a needle with at most this many hits is named by its ids
ESTIMATE_SLACK = 2  # ... its hits are read when the planner estimates at most twice that
PROBED = 100  # SQLite: a phrase's rowids read at each end to estimate how many it has
DENSE = ("dense",)  # a common needle, tested row by row (see dense_terms)
OVER_CAP = "over_cap"  # a LIKE's shape, once more than COUNT_CAP matches were read
# PostgreSQL: a needle estimated at more hits is COMMON: beside another filter its count tests
# rows one by one, not ANDed with its trigram bitmap (see counted_shape). That bitmap reads
# posting lists of trigrams in most rows: "hooli.example" (570,000 estimated at 10M) 465 ms for it
# alone, against 156 ms walking the 20,308 Error rows of the largest profile; "zoe." (187,000)
# 57 ms, and its bitmap ANDed with the Error rows' made that count 1.2 s -> 0.15 s.
BITMAP_MAX = 300_000
COMMON = "common"  # ... the mark of such a needle's ILIKE shape
# PostgreSQL: the mark of a needle without a cased character ("06", "@", "2024-"): LIKE alone
# finds what ILIKE would, at a third of the cost per row tested, and its trigram index serves both.
UNCASED = "uncased"
DENSE_UNCASED = (*DENSE, UNCASED)  # PostgreSQL: DENSE for such a needle
# PostgreSQL: the mark of an ASCII needle with none of the letters that a character beyond
# ASCII lowers to in this database (`_letters_from_beyond_ascii`: "i" and "k", from U+0130 and
# the Kelvin sign, in a glibc or ICU locale): a value holds it after lower() exactly when it
# holds it after the C collation's lower(), which folds ASCII letters alone, without the
# locale's wide-character conversion of each character.
ASCII_FOLD = "ascii_fold"
DENSE_ASCII_FOLD = (*DENSE, ASCII_FOLD)  # PostgreSQL: DENSE for such a needle
DENSE_AFTER = COUNT_CAP
_FTS = table("connection_fts", column("rowid", Integer), column("connection_fts", String))
_FTS_IDS = select(_FTS.c.rowid).where(_FTS.c.connection_fts.match(bindparam("search_phrase")))
RAREST = 3  # trigrams a long needle's candidates are looked up by
LONG = 2 * RAREST + 1  # a needle of at least this many distinct trigrams is looked up so
RANKED_BY = 32  # rowids read per trigram to rank a long needle's trigrams
RARE_SHARE = 0.01  # PostgreSQL: a trigram in a larger share of rows is not rare
PAIR_AFTER = string.ascii_lowercase + string.digits + "."  # a pair's trigrams start with one
PAIR_BITMAP_MAX = 60_000  # PostgreSQL: ... when the needle is estimated at most this many rows
# Printable ASCII as both text indexes fold it: the neighbours of a pair's trigrams (pair_hits)
PAIR_NEIGHBOURS = " " + string.punctuation + string.digits + string.ascii_lowercase
WORD_START = "(^|[ -/:-@[-`{-~])"  # PostgreSQL regex: a value's start, or ASCII punctuation
ODD_MAX = 20_000  # ... and at most this many live rows beyond ASCII, read by their own index
_HIT_COLUMNS = (col(Connection.id), col(Connection.status), col(Connection.profile_id))
_LIVE = col(Connection.revoked_at).is_(None)
_RANK = text("SELECT count(*), min(rowid), max(rowid) FROM (SELECT rowid FROM connection_fts "
             "WHERE connection_fts MATCH :search_phrase LIMIT :ranked_by)")


def prefix_bounds(needle: str) -> dict[str, str]:
    """`search_prefix` and `search_prefix_end`: the index range of values that start with the
    lowered needle. A person types the start of an account ("zoe."), whose matches sort
    together, and a probe or count that walked a profile's index in order reached them last
    (a 52,000-row card at 10M: 18 ms to its first "zoe." match). Read first, that range is a
    seek; the rest of the index is walked after it only if needed. U+10FFFF sorts after every
    character by code point (PostgreSQL's C collation, SQLite's BINARY); under another
    collation the range may hold less, never a wrong row: every row is still tested."""
    start = needle.lower()
    return {"search_prefix": start, "search_prefix_end": start + "\U0010ffff"}


# SQLite walks any index on profile_id for a probe (each row then read from the table); told
# the index that holds the tested column, it reads the index alone: 6-13x faster at 10M rows.
PROBED_INDEX = {("account", False): "ix_connection_live_profile_account",
                ("account", True): "ix_connection_live_profile_status_account",
                ("service", False): "ix_connection_live_profile_service",
                ("service", True): "ix_connection_live_profile_service"}


def probed_source(column: str, status: bool, sqlite: bool) -> str:
    """The FROM of a walk along the index that holds `column` (PROBED_INDEX) on SQLite, which
    is told it with INDEXED BY; PostgreSQL's planner finds it."""
    return f"connection INDEXED BY {PROBED_INDEX[column, status]}" if sqlite else "connection"


def column_ends(column: str, profile_ref: str, sqlite: bool, status: bool = False
                ) -> tuple[str, str]:
    """SQL of the lowest and the highest `column` of a profile's live rows (of the filter's
    status), each a seek to one end of the index that holds it (PROBED_INDEX, where the
    column follows the profile[ and status]). Equal, the profile holds one value there: a
    profile's service is its provider's label, an API-key profile's accounts all read
    "Configured"; a needle is then tested on that value, not on each row."""
    source = probed_source(column, status, sqlite)
    live = (f"profile_id = {profile_ref} AND revoked_at IS NULL"
            f"{' AND status = :filter_status' if status else ''}")
    low, high = (f"(SELECT {end}({column}) FROM {source} WHERE {live})" for end in ("min", "max"))
    return low, high


class Fold(Enum):
    """How a row-by-row test (`walked_test`) lowers the values it tests on PostgreSQL."""

    NONE = "like"  # UNCASED: LIKE alone finds what ILIKE finds
    ASCII = "ascii"  # ASCII_FOLD: lower(x COLLATE "C")
    FULL = "lower"  # lower(x), as ILIKE


def fold(shape: tuple[Any, ...]) -> Fold:
    """The Fold of a filter shape's search, from its marks (UNCASED, ASCII_FOLD)."""
    marks = {m for part in shape if isinstance(part, tuple) for m in part}
    return Fold.NONE if UNCASED in marks else Fold.ASCII if ASCII_FOLD in marks else Fold.FULL


def walked_test(column: str, sqlite: bool, folding: Fold = Fold.FULL) -> str:
    """DENSE's test of one column, row by row along an index (ASCII needles only). SQLite's
    LIKE folds ASCII letters. PostgreSQL: `lower(x) LIKE lower(y)`, which no trigram index
    serves (see dense_terms) and costs a third less per row than ILIKE (a 335,000-row card:
    52-70 -> 34 ms); for an ASCII_FOLD needle `lower(x COLLATE "C")`, which costs 43 % less
    again and which the planner costs the same (a 66,000-row card of 10M, "zoe.": 28.8 ->
    16.3 ms); LIKE alone for an UNCASED needle, a third of the first."""
    if sqlite or folding is Fold.NONE:
        return f"{column} LIKE :search_like_0 ESCAPE '\\'"
    folded = f"{column} COLLATE \"C\"" if folding is Fold.ASCII else column
    return f"lower({folded}) LIKE lower(:search_like_0) ESCAPE '\\'"


@cache
def columns_ruled_out(sqlite: bool, folding: Fold, every: bool) -> TextClause:
    """Rows (profile id, its accounts ruled out, its services ruled out) for a needle
    (`search_like_0`, ASCII) of every profile (`every`), else of the `id_list` parameter
    `search_probed`. A column is ruled out where it holds one value in the profile's live rows
    (`column_ends`: two seeks, read once: `OFFSET 0` keeps PostgreSQL from copying them into
    each test, 44 -> 36 ms for 2,000 profiles on PostgreSQL) and that value does not hold the needle: a
    profile's service is its provider's label, an API-key profile's accounts all read
    "Configured". What prunes a needle without letters ("06", "@"), which has no terms."""
    source = ("profile AS probed" if every
              else "(SELECT value AS id FROM json_each(:search_probed)) AS probed" if sqlite
              else "unnest(CAST(:search_probed AS integer[])) AS probed(id)")
    ends, tests = [], []
    for name in ("account", "service"):
        low, high = column_ends(name, "probed.id", sqlite)
        ends.append(f"{low} AS {name}_low, {high} AS {name}_high")
        tests.append(f"CASE WHEN {name}_low = {name}_high THEN NOT "
                     f"({walked_test(f'{name}_low', sqlite, folding)}) ELSE false END")
    return text(f"SELECT id, {tests[0]} AS accounts, {tests[1]} AS services FROM (SELECT "
                f"probed.id, {', '.join(ends)} FROM {source}{'' if sqlite else ' OFFSET 0'}) "
                "AS ends")


def prefix_part(column: str, starting: bool) -> str:
    """The values of `column` that start with the needle (`starting`), or the others: the two
    halves of an index walk that reads the range of `prefix_bounds` first."""
    return (f"{column} >= :search_prefix AND {column} < :search_prefix_end" if starting
            else f"({column} < :search_prefix OR {column} >= :search_prefix_end)")


def like_pattern(needle: str) -> str:
    """'%needle%' with LIKE's own wildcards in `needle` escaped (use with escape='\\')."""
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _case_variants(needle: str) -> list[str]:
    """SQLite's LIKE folds ASCII letters only: spell out the cases of the others ('é', 'É').

    Used for needles under three characters, so there are at most nine variants.
    """
    variants = [""]
    for ch in needle:
        forms = {ch} if ch.isascii() else {ch, ch.lower(), ch.upper()}
        variants = [v + f for v in variants for f in sorted(forms)]
    return variants


@dataclass(frozen=True)
class SearchTerms:
    """A search as SQL: the shape of its condition (hashable, see search_clause) and its values."""

    shape: tuple[Any, ...]
    params: dict[str, Any]
    # A rare needle's live hits named by id (`named_by_id`): (id, status, profile_id) of each,
    # read with the ids, so that a listing's other filters can narrow them (ConnectionFilter).
    hits: tuple[tuple[Any, ...], ...] | None = None
    # PostgreSQL: the planner's estimate of the needle's live rows, where it was read to choose.
    estimate: float | None = None


def array_literal(ids: Sequence[int]) -> str:
    """PostgreSQL: ids as one integer[] literal (`'{1,2,3}'`, cast on the server). Bound as an
    SQLAlchemy ARRAY, 7,015 ints cost ~4 ms of client CPU per statement, element by element."""
    return "{" + ",".join(str(int(i)) for i in ids) + "}"


def id_list(ids: Sequence[int], sqlite: bool) -> str:
    """Ids as one parameter: a JSON list on SQLite (see json_values), an array literal on
    PostgreSQL (array_literal); `in_id_list` tests a column against one."""
    return json.dumps(list(ids)) if sqlite else array_literal(ids)


def in_id_list(column: str, param: str, sqlite: bool) -> str:
    """SQL: `column` is one of the ids of the `id_list` parameter `param`."""
    return (f"{column} IN (SELECT value FROM json_each(:{param}))" if sqlite
            else f"{column} = ANY(CAST(:{param} AS integer[]))")


HITS = "hits"  # the mark of a shape naming a search's live hits by id (see named_by_id)
NARROWED = "narrowed"  # ... and of one naming those the listing's other filters left


def named_by_id(kind: str, hits: Sequence[tuple[Any, ...]], narrowed: bool = False
                ) -> SearchTerms:
    """A search named by the ids of its live hits ((id, status, profile_id) each), in the
    store's form: PostgreSQL an array literal (`ids`: text cast to integer[]; a list of 7,015
    ints bound as an ARRAY cost ~4 ms of client CPU per statement), SQLite a JSON list
    (`id_list`: one parameter, see json_values). `search_hit_count` is the listing's count
    (HitCount): counting the ids again read each hit's row once more (21 ms for 6,904 at 10M
    on PostgreSQL, 13 ms for 7,015 on SQLite)."""
    ids = [h[0] for h in hits]
    params: dict[str, Any] = {"search_hit_count": len(ids),
                              f"search_{kind}": id_list(ids, sqlite=kind == "id_list")}
    return SearchTerms((kind, NARROWED if narrowed else HITS), params,
                       None if narrowed else tuple(hits))


def search_terms(session: Session, needle: str) -> SearchTerms | None:
    """How to match connections whose account or service contains `needle` (None: no filter)."""
    terms = text_terms(session, needle)
    if terms is None:
        return None
    needle = needle.strip()
    if session.get_bind().dialect.name == "postgresql":
        return _few_hits_by_id(session, terms, needle)
    if terms.shape == ("fts",):
        return _sqlite_plan(session, terms, needle)
    hits = pair_hits(session, terms, needle, DENSE_AFTER)
    return terms if hits is None else _named_or_over_cap(terms, hits, "id_list", DENSE_AFTER)


def text_terms(session: Session, needle: str) -> SearchTerms | None:
    """search_terms without PostgreSQL's probe: the text index's own condition (FTS5 MATCH or
    ILIKE), for a caller that fetches the hits itself in one statement."""
    needle = needle.strip()
    if not needle:
        return None
    if len(needle) > SEARCH_MAX:
        raise InvalidInput(f"search text is {len(needle)} characters: at most {SEARCH_MAX}")
    if any(unicodedata.category(ch) == "Cc" for ch in needle):
        raise InvalidInput("search text may not contain control characters")
    plan_for_values(session)
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite" and len(needle) >= 3:
        return SearchTerms(("fts",), {"search_phrase": fts_phrase(needle)})
    needles = _case_variants(needle) if dialect == "sqlite" else [needle]
    marks: tuple[str, ...] = ()
    if dialect != "sqlite" and needle.lower() == needle == needle.upper():
        marks = (UNCASED,)
    elif dialect != "sqlite" and needle.isascii():
        beyond = _letters_from_beyond_ascii(session)
        if beyond is not None and not beyond & set(needle.lower()):
            marks = (ASCII_FOLD,)
    return SearchTerms(("like", len(needles), *marks),
                       {f"search_like_{i}": like_pattern(n) for i, n in enumerate(needles)})


_UTF8 = "current_setting('server_encoding') = 'UTF8'"
_BEYOND_ASCII = text(
    f"SELECT {_UTF8} AND lower('ABCDEFGHIJKLMNOPQRSTUVWXYZ') = 'abcdefghijklmnopqrstuvwxyz', "
    "string_agg(lower(chr(cp)), '') FROM generate_series(128, CASE WHEN "
    f"{_UTF8} THEN 131071 ELSE 127 END) AS cp "
    "WHERE cp NOT BETWEEN 55296 AND 57343 AND lower(chr(cp)) ~ '[a-z]'")
_FOLDS: dict[str, frozenset[str] | None] = {}


def _letters_from_beyond_ascii(session: Session) -> frozenset[str] | None:
    """PostgreSQL: the ASCII letters that lower() turns a character beyond ASCII into, in this
    database's locale, read once per database and process (every code point of planes 0 and 1,
    where the characters with a case are: ~0.05 s); None when lower() does not fold A-Z as
    ASCII does (a Turkish locale's "I") or the database is not UTF-8."""
    url = session.get_bind().engine.url.render_as_string()
    if url not in _FOLDS:
        plain, lowered = session.connection().execute(_BEYOND_ASCII).one()
        _FOLDS[url] = (frozenset(ch for ch in (lowered or "") if "a" <= ch <= "z")
                       if plain else None)
    return _FOLDS[url]


@lru_cache(maxsize=32)
def search_clause(shape: tuple[Any, ...]) -> ColumnElement[bool]:
    """The condition of a SearchTerms shape, its values left as bound parameters."""
    kind = shape[0]
    if kind == "fts":
        fts: Any = text("SELECT rowid FROM connection_fts WHERE connection_fts MATCH :search_phrase")
        return col(Connection.id).in_(fts.bindparams(bindparam("search_phrase", type_=String)))
    if kind == "ids":
        return col(Connection.id) == any_(cast(bindparam("search_ids", type_=Text),
                                               ARRAY(Integer)))
    if kind == "id_list":
        return col(Connection.id).in_(json_values(bindparam("search_id_list", type_=String)))
    if kind == "dense":  # `|| ''`: never through the trigram index (PostgreSQL), see dense_terms
        return or_(*(_insensitive_like(col(c).concat(""), bindparam("search_like_0"),
                                       UNCASED in shape)
                     for c in (Connection.account, Connection.service)))
    columns: tuple[Any, ...] = (Connection.account, Connection.service)
    if kind == "lower_like" and UNCASED not in shape:  # ILIKE row by row: see counted_shape
        return or_(*(lowered_like(c, bindparam(f"search_like_{i}"))
                     for i in range(shape[1]) for c in columns))
    return or_(*(_insensitive_like(c, bindparam(f"search_like_{i}"), UNCASED in shape)
                 for i in range(shape[1]) for c in columns))


def _insensitive_like(column: Any, pattern: Any, uncased: bool) -> ColumnElement[bool]:
    """ILIKE, or LIKE for a needle without a cased character (UNCASED), which finds the same."""
    test: ColumnElement[bool] = (column.like(pattern, escape="\\") if uncased
                                 else column.ilike(pattern, escape="\\"))
    return test


def json_values(array: Any) -> Select[Any]:
    """SQLite: the values of a JSON array parameter as a subquery, so `x IN` many ids is one
    parameter, not a placeholder per id (rendered anew by SQLAlchemy on every call)."""
    return select(literal_column("value")).select_from(func.json_each(array))


def lowered_like(column: Any, pattern: Any) -> ColumnElement[bool]:
    """`lower(column) LIKE lower(pattern)` (escape `\\`): ILIKE's own test in a UTF-8
    database, which no trigram index serves (see counted_shape). SQLite's LIKE folds the
    ASCII letters that its lower() folds, so there it is LIKE alone (`_Folded`): the lower()
    of each row cost a third of a count's scan."""
    return _Folded(column).like(_Folded(pattern), escape="\\")


class _Folded(FunctionElement[str]):
    """`lower(x)`, but `x` on SQLite (see lowered_like)."""

    name = "lower"
    inherit_cache = True
    type = String()


@compiles(_Folded)
def _lowered(element: _Folded, compiler: Any, **kw: Any) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(_Folded, "sqlite")
def _as_is(element: _Folded, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


class LiveRowsInTableOrder(ColumnElement[bool]):
    """`connection.revoked_at IS NULL` written so that SQLite cannot take it from its partial
    indexes of live rows (`+`): a count that reads each row it tests then scans the table in
    rowid order, not an index in profile order with a lookup per row (a needle under three
    letters at 10M, with LIKE alone (lowered_like): "12" to its capped count 2.4 -> 0.27 s,
    "@" 128 -> 7 ms)."""

    inherit_cache = True
    type = Boolean()


@compiles(LiveRowsInTableOrder)
def _live(element: LiveRowsInTableOrder, compiler: Any, **kw: Any) -> str:
    return "connection.revoked_at IS NULL"


@compiles(LiveRowsInTableOrder, "sqlite")
def _live_unindexed(element: LiveRowsInTableOrder, compiler: Any, **kw: Any) -> str:
    return "+connection.revoked_at IS NULL"


def counted_shape(shape: tuple[Any, ...]) -> tuple[Any, ...]:
    """A filter shape as its rows are read whole (a capped count, a collected page): an ILIKE
    search alone (PostgreSQL keeps one for a needle with more hits than the count's cap, so
    the count reads rows until the cap) as `lower(x) LIKE lower(y)`. In a UTF-8 database that
    is what ILIKE does, but ILIKE lowers the pattern again for every row: 40 % less CPU per
    row ("zoe." at 10M: ~500,000 rows scanned for 10,001 matches). No trigram index serves
    it: a needle that common is read by that scan anyway.

    A search that is not COMMON keeps its ILIKE beside another filter, so that the planner can
    AND the needle's trigram bitmap with that filter's index: the test made it walk the whole
    status ("zoe." + Error at 10M: 1.2 s -> 0.15 s). A COMMON one is tested row by row: its
    bitmap costs more than the other filter's rows. With a status or an environment that is
    `lower(x) LIKE lower(y)`, whose statistics (migration 0015) tell the planner that a walk
    finds 10,001 matches soon. Within a profile, where a needle and the profile are least
    independent (no first name in an API-key profile), an estimate made from the whole table
    sent the planner walking the whole table for a page of the profile's rows; there the test
    is DENSE's, which no statistics or index serves, and the profile's rows are read (1.0 ->
    0.7 s for "hooli.example" in the largest profile of 10M). On SQLite all render the same."""
    alone = len(shape) == 1
    profiled = "profile" in shape or "profile_id" in shape
    return tuple(_counted_part(part, alone, profiled) for part in shape)


def _counted_part(part: Any, alone: bool, profiled: bool) -> Any:
    """One part of counted_shape: the ILIKE of a search as its rows are read whole."""
    if not (isinstance(part, tuple) and part[0] == "like") or not (alone or COMMON in part):
        return part
    uncased = UNCASED in part
    if profiled and not alone:
        return DENSE_UNCASED if uncased else DENSE
    return ("lower_like", part[1], *((UNCASED,) if uncased else ()))


def _sqlite_plan(session: Session, fts: SearchTerms, needle: str) -> SearchTerms:
    """SQLite: name a needle's rows by id when it has at most DENSE_AFTER of them, else walk.

    `id IN (SELECT rowid ... MATCH)` makes SQLite collect every match before the listing reads
    one: 2 s for "Configured" at a million rows (a third of them match), ten times that at ten
    million. FTS5 yields a phrase's rowids one at a time, so reading at most COUNT_CAP + 1 of
    them costs what a capped count costs whatever the table's size: a rarer needle is then
    named by its ids (every later statement reads only those), and a commoner one (more than
    one row in every N / DENSE_AFTER) is tested row by row along the listing's own index walk,
    which finds a page within a few thousand rows (the listing decides: see
    connmodel.services.connections._listing). A long needle's hits come from their rows, read
    to confirm them (`through_rarest`), with their status and profile, as PostgreSQL's are:
    the count is how many (`named_by_id`). A phrase's hits are rowids of the text index
    alone, revoked ones too, which the count then reads (returning the rows to Python instead
    cost "kim.wr", 6,904 hits at 10M, 4 ms more). LIKE folds ASCII letters only: a common
    non-ASCII needle keeps the collect-all plan.
    """
    conn = session.connection()
    hits = through_rarest(conn, needle, [_LIVE], _HIT_COLUMNS, DENSE_AFTER)
    if hits is not None:
        return named_by_id("id_list", hits)
    ids = _phrase_ids(conn, fts.params, DENSE_AFTER)
    if ids is None:
        return dense_terms(fts, needle)
    return SearchTerms(("id_list",), {"search_id_list": json.dumps(ids)})


def _phrase_ids(conn: SqlConnection, params: dict[str, Any], cap: int,
                slack: float = ESTIMATE_SLACK) -> list[int] | None:
    """SQLite: the text index's rowids of a phrase if it has at most `cap` of them, else None.

    FTS5 hands a phrase's rowids over one at a time, in order (~1.5 us each at 10M rows), so
    finding out that "hooli.example" had more than 20,000 meant reading 20,001 of them (29.5
    ms). The first PROBED are read first: how far into the table's ids they reach estimates
    the total, as do the last PROBED, and a phrase estimated from both ends at more than
    `slack` x `cap` is not read further (~1 ms). Hits crowded at one end of the ids give
    a low estimate at the other: such a phrase is read on, as is any other, by the same
    statement (a second one, asked to go on past a rowid or from the start, cost "rosa.mille"
    ~10 ms more: a phrase's trigrams are looked up again in every segment). A wrong guess
    costs time only: the caller's walk gives the same rows.
    """
    result = conn.execute(_FTS_IDS.limit(cap + 1), params)
    ids = [rowid for rowid, in result.fetchmany(PROBED + 1)]  # at most cap + 1: the LIMIT
    if len(ids) > PROBED and _seems_common(conn, params, ids, slack * cap):
        result.close()
        return None
    ids += [rowid for rowid, in result]
    return ids if len(ids) <= cap else None


def _seems_common(conn: SqlConnection, params: dict[str, Any], first: list[int],
                  above: float) -> bool:
    """Whether a phrase has more than `above` rowids, judged from the share of the table's id
    range its `first` (lowest) rowids cover and, only if they say so, as many of its highest:
    both must say so, as hits crowded at one end look common from that end alone."""
    low, high = conn.execute(select(select(func.min(col(Connection.id))).scalar_subquery(),
                                    select(func.max(col(Connection.id))).scalar_subquery())).one()
    low, high = int(low), int(high)
    span = high - low + 1
    if len(first) * span / (first[-1] - low + 1) <= above:
        return False
    last: list[int] = list(conn.execute(_FTS_IDS.order_by(_FTS.c.rowid.desc()).limit(len(first)),
                                        params).scalars())
    return len(last) * span / (high - last[-1] + 1) > above


def dense_terms(terms: SearchTerms, needle: str) -> SearchTerms:
    """A common needle as a test of each row (DENSE), for statements that walk an index anyway.

    When a needle matches many rows, a page or a profile's first match is found within a few
    rows of any index walk, while the text index would hand over every match first. The test
    is written (`|| ''`) so that PostgreSQL cannot turn it back into a trigram bitmap of every
    match. SQLite's LIKE folds ASCII letters only: a non-ASCII needle keeps its text index
    condition (FTS5 MATCH, or the spelled-out cases of a short needle).
    """
    if not needle.isascii():
        return terms
    marked = {Fold.NONE: DENSE_UNCASED, Fold.ASCII: DENSE_ASCII_FOLD, Fold.FULL: DENSE}
    return SearchTerms(marked[fold((terms.shape,))],
                       {**terms.params, "search_like_0": like_pattern(needle)})


def matches_by_profile(session: Session, terms: SearchTerms, needle: str,
                       conds: list[ColumnElement[bool]], cap: int) -> list[Any] | None:
    """Rows (profile id, status, how many, their ids as comma-separated text) of the live rows
    matching `terms` and `conds` if there are at most `cap`, else None, having read at most
    cap + 1 of them (SQLite: FTS5's lazy walk) or none at all (PostgreSQL: when the planner's
    estimate is above `cap`, as a trigram bitmap would first collect every match). A needle
    of two characters is looked for through the trigrams that hold it (`pair_hits`); one of
    one character is not (None): no trigram serves it, so finding its hits would read the
    whole table (2.7 s at 1M rows for one with none).

    Grouped by the store: 17,000 hits as Python rows cost ~20 ms of a search screen's CPU, the
    few hundred groups almost nothing, and a card's ids are parsed only if it is shown.
    """
    conn = session.connection()
    if len(needle) < 2:
        return None
    if conn.dialect.name == "postgresql" and _estimated_hits(session, terms) > cap:
        return None
    if len(needle) == 2:
        hits = pair_hits(session, terms, needle, cap, conds)
        return None if hits is None or len(hits) > cap else _grouped(hits)
    if conn.dialect.name == "postgresql":
        return _postgres_by_profile(conn, terms, needle, conds, cap)
    if terms.shape != ("fts",):
        return None  # SQLite's short needles (see above)
    by = (col(Connection.profile_id), col(Connection.status))
    columns = (*by, func.count(), func.group_concat(col(Connection.id)))
    found = through_rarest(conn, needle, conds, columns, cap, group_by=by)
    if found is not None:
        return found
    return _sqlite_by_profile(conn, terms.params, conds, columns, by, cap)


def _sqlite_by_profile(conn: SqlConnection, params: dict[str, Any],
                       conds: list[ColumnElement[bool]], columns: tuple[Any, ...],
                       by: tuple[Any, ...], cap: int) -> list[Any] | None:
    """SQLite's matches_by_profile for a phrase: at most cap + 1 of its rowids (FTS5's lazy
    walk, unless its first PROBED say it has far more: `_seems_common`), each looked up in
    HITS_INDEX for its profile and status, grouped, in one statement. The first row, without
    a profile, counts the rowids read; with more than `cap`, none is looked up (a needle of
    20,000-40,000 hits passes the probe: ".le", 36,597 at 1M, its screen 56 -> 40 ms).

    The rowids once went to Python and back as a JSON list, and each hit's row was read from
    the table (~800 bytes a row, a page each): "grace" (19,763 hits at 1M) 57 ms, of which
    fetching the rowids 15 and the lookups 35; now ~30 ms. It also matters beside the server's
    event loop: a read returning rows to Python takes the GIL back after every one.
    """
    first = list(conn.execute(_FTS_IDS.limit(PROBED + 1), params).scalars())
    if len(first) > PROBED and _seems_common(conn, params, first, ESTIMATE_SLACK * cap):
        return None
    hits = _FTS_IDS.limit(cap + 1).cte("hits").prefix_with("MATERIALIZED")
    total = (select(func.count().label("n")).select_from(hits).cte("total")
             .prefix_with("MATERIALIZED"))  # counted once, for the first row and the guard
    joined = _HitsThroughIndex(hits, Connection.__table__,  # type: ignore[attr-defined]
                               col(Connection.id) == hits.c.rowid)
    # Over the cap, no hit is looked up (SQLite tests a constant condition once, first).
    grouped = (select(*columns).select_from(joined)
               .where(*conds, select(total.c.n).scalar_subquery() <= cap).group_by(*by))
    every = select(null(), null(), total.c.n, null())
    return _within_cap(conn.execute(union_all(every, grouped), params).all(), cap)


def _within_cap(rows: Sequence[Any], cap: int) -> list[Any] | None:
    """The groups of a statement whose row without a profile counts the hits read; None when
    they were more than `cap`."""
    total = next(n for pid, _, n, _ in rows if pid is None)
    return None if total > cap else [r for r in rows if r[0] is not None]


def _postgres_by_profile(conn: SqlConnection, like: SearchTerms, needle: str,
                         conds: list[ColumnElement[bool]], cap: int) -> list[Any] | None:
    """PostgreSQL's matches_by_profile: at most cap + 1 hits by a trigram bitmap (which reads
    each row to recheck it, so their columns come with them: probing them again by id cost
    40 ms for 17,000 hits), then `conds` and the groups on those rows only. With a status
    among the conditions of the bitmap's statement itself the planner walked that status's
    rows testing each (1.5 s for one hit among 10M rows' Error ones). The first row, without a
    profile, counts every hit read."""
    capped, params = _capped_hits(conn, like, needle, cap)
    hits = capped.with_only_columns(col(Connection.id), col(Connection.profile_id),
                                    col(Connection.status), col(Connection.revoked_at)
                                    ).cte("hits").prefix_with("MATERIALIZED")
    on_hits = ClauseAdapter(hits)
    grouped = (select(hits.c.profile_id, hits.c.status, func.count(),
                      func.string_agg(cast(hits.c.id, Text), literal(",")))
               .where(*(on_hits.traverse(c) for c in conds))
               .group_by(hits.c.profile_id, hits.c.status))
    every = select(null(), null(), func.count(), null()).select_from(hits)
    return _within_cap(conn.execute(union_all(every, grouped), params).all(), cap)


def through_rarest(conn: SqlConnection, needle: str, conds: list[ColumnElement[bool]],
                   columns: tuple[Any, ...], cap: int, group_by: tuple[Any, ...] = (),
                   ) -> list[Any] | None:
    """SQLite: `columns` of the rows matching a long needle and `conds`, found through the AND
    of its rarest trigrams and confirmed by LIKE; None for a needle too short or not ASCII, or
    with more than `cap` candidates (the caller then asks the whole phrase).

    FTS5 reads the doclist of every trigram of a phrase and checks their positions: a whole
    e-mail address has thirty, and those of its domain ("exa", "mpl") are in most rows, so one
    hit cost 13 ms at 1M rows and 190 ms at 10M, against 0.1 ms for the AND of its three
    rarest trigrams. Which are rarest is read from the text index itself: the first RANKED_BY
    rowids of each trigram (a trigram with fewer is rarer; among the others, the one whose
    rowids spread widest), no two of them neighbours (`_spread`): the three rarest of
    "rosa.mille", "a.m", ".mi" and "ill", are in 20,000+ rows together at 10M ("a.mill"),
    where "a.m", "ill" and "osa" are in its 7,015 hits only (11 ms, against 30 ms for the
    phrase); three sharing no letter are asked too when those are not clearly rare
    (`_rarest_and`). Up to `cap` candidates are read (a common needle stops after its first rowids,
    ~2 ms, then takes the phrase); their rows are read by id, as the phrase's hits are, and
    LIKE confirms them on the way. LIKE folds ASCII letters only, as the common-needle walk
    (`dense_terms`) already assumes.
    """
    low = needle.lower()
    grams = sorted(text_trigrams(needle))
    if len(grams) < LONG or not needle.isascii():
        return None
    rarest = sorted(grams, key=lambda gram: _rarity(conn, fts_phrase(gram)))
    chosen = _rarest_and(conn, [_spread(low, rarest, apart) for apart in (2, 3)])
    ids = _phrase_ids(conn, {"search_phrase": chosen}, cap, slack=1)
    if ids is None:
        return None
    pattern = bindparam("search_like_0", type_=String)
    confirmed = or_(*(col(c).like(pattern, escape="\\")
                      for c in (Connection.account, Connection.service)))
    stmt = select(*columns).where(search_clause(("id_list",)), *conds, confirmed)
    return list(conn.execute(stmt.group_by(*group_by),
                             {"search_id_list": json.dumps(ids),
                              "search_like_0": like_pattern(needle)}).all())


def _rarest_and(conn: SqlConnection, options: list[list[str]]) -> str:
    """The FTS5 AND of the trigrams of the option the text index finds rarest: the first at
    once if it has fewer than RANKED_BY rows (rare enough: asking costs ~1 ms a time)."""
    ands = list(dict.fromkeys(" AND ".join(map(fts_phrase, grams)) for grams in options))
    if len(ands) == 1:
        return ands[0]
    best, least = ands[0], _rarity(conn, ands[0])
    for other in ands[1:]:
        if least[0] < RANKED_BY:
            break
        rarity = _rarity(conn, other)
        if rarity < least:
            best, least = other, rarity
    return best


def _rarity(conn: SqlConnection, phrase: str) -> tuple[int, int]:
    """How rare an FTS5 query is, from its first RANKED_BY rowids (smaller is rarer): fewer
    rowids, else a wider spread of their ids."""
    n, first, last = conn.execute(_RANK, {"search_phrase": phrase, "ranked_by": RANKED_BY}).one()
    return (n, 0) if n < RANKED_BY else (n, first - last)


def _spread(low: str, rarest: list[str], apart: int) -> list[str]:
    """RAREST of the trigrams `rarest` (rarest first) of the lowered needle `low`, rarest first
    but starting at least `apart` letters from each other where the needle allows, else at
    least 2: neighbours share two letters, so together they say little more than one ("a.m"
    and ".mi"). Sharing no letter (3) is not always better: "a.m", "ill" and "osa" of
    "rosa.mille" are rarer together than "a.m", "ill" and "ros"; but "e.l", "lop" and "pez"
    of "grace.lopez" are in 20,702 rows at 10M (every "...e.lopez"), more than through_rarest
    reads, and "e.l", "ope" and "gra" in its 6,911 hits alone: through_rarest asks the text
    index which (`_rarest_and`)."""
    starts = {gram: [i for i in range(len(low) - 2) if low[i:i + 3] == gram] for gram in rarest}
    chosen: list[str] = []
    for gap in dict.fromkeys((apart, 2)):
        for gram in rarest:
            taken = [i for g in chosen for i in starts[g]]
            if (len(chosen) < RAREST and gram not in chosen
                    and all(abs(i - j) >= gap for i in starts[gram] for j in taken)):
                chosen.append(gram)
    return (chosen + [g for g in rarest if g not in chosen])[:RAREST]


def text_trigrams(text_: str) -> set[str]:
    """The distinct three-character runs of `text_`, lowered (as both text indexes fold)."""
    low = text_.lower()
    return {low[i:i + 3] for i in range(len(low) - 2)}


def fts_phrase(text_: str) -> str:
    """`text_` as an FTS5 string (one phrase, whatever its characters)."""
    return '"' + text_.replace('"', '""') + '"'


class _TextIndexFirst(Join):
    """A join whose left side (the text index) SQLite always reads in the outer loop."""

    inherit_cache = True


@compiles(_TextIndexFirst, "sqlite")
def _cross_join(join: _TextIndexFirst, compiler: Any, **kw: Any) -> str:
    """SQLite's CROSS JOIN, the one join order hint its planner takes (SQLAlchemy renders
    none: a `NOT INDEXED` table hint is silently dropped for SQLite)."""
    return str(compiler.visit_join(join, **kw)).replace(" JOIN ", " CROSS JOIN ", 1)


def text_index_first(index: Any, rows: Any, onclause: Any) -> Join:
    """`index` joined to `rows`, the text index read in the outer loop on SQLite (CROSS JOIN):
    a walk of its hits in rowid order that a LIMIT stops early."""
    return _TextIndexFirst(index, rows, onclause)


HITS_INDEX = "ix_connection_search_hits"  # SQLite: (id, profile_id, status) of live rows (0018)


class _HitsThroughIndex(_TextIndexFirst):
    """A join of a search's hits (left) to their rows, which SQLite reads from HITS_INDEX."""

    inherit_cache = True


@compiles(_HitsThroughIndex, "sqlite")
def _hits_index(join: _HitsThroughIndex, compiler: Any, **kw: Any) -> str:
    """INDEXED BY: the planner would read the table's rows by their rowid instead."""
    return _cross_join(join, compiler, **kw).replace(" ON ", f" INDEXED BY {HITS_INDEX} ON ", 1)


def through_text_index(conds: list[ColumnElement[bool]], *columns: Any,
                       phrase: str = "search_phrase") -> Select[Any]:
    """`columns` (the id by default) of the rows matching `conds` and a needle's FTS5 phrase
    (the parameter `phrase`), found by walking the text index.

    Driven by FTS5's lazy walk, each hit joined to its row by primary key (CROSS JOIN: else
    SQLite may walk an index of `connection` for `conds` instead, probing the text index row
    by row: 25 s for a rare needle among the Error rows of a million), a capped count or a
    capped read of the hits stops after its cap instead of testing every row of the table.
    """
    rows = Connection.__table__  # type: ignore[attr-defined]
    joined = _TextIndexFirst(_FTS, rows, col(Connection.id) == _FTS.c.rowid)
    return (select(*(columns or (col(Connection.id),))).select_from(joined)
            .where(_FTS.c.connection_fts.match(bindparam(phrase)), *conds))


def search_condition(session: Session, needle: str) -> ColumnElement[bool] | None:
    """A WHERE condition, values included, for connections whose account or service contains
    `needle` (None for an empty needle)."""
    terms = search_terms(session, needle)
    return None if terms is None else with_values(search_clause(terms.shape), terms.params)


def over_cap_by_pairs(session: Session, terms: SearchTerms, needle: str) -> SearchTerms:
    """A two-character needle searched alone, marked OVER_CAP when its trigrams show more than
    COUNT_CAP live rows holding it (the count is then "at least" without more:
    `connmodel.services.connections.CapReached`); else `terms` as they were. (A needle whose
    trigrams hold fewer rows is named by them first: `pair_hits`.)

    No trigram serves a needle under three characters, so its capped count walked the rows
    until COUNT_CAP matched: "06" at 10M (0.6 % of the rows) read ~1.6 million, 130-340 ms.
    A row holding one of the trigrams "a06", "b06", ... ".06" (PAIR_AFTER) holds "06": the
    text index finds those rows (FTS5: an OR of the phrases, read lazily in rowid order;
    PostgreSQL: a BitmapOr of trigram scans), each then tested by the search itself, and
    COUNT_CAP + 1 of them settle the count (~20 ms on SQLite, ~45 on PostgreSQL). Fewer prove
    nothing, as the needle may follow another character or start a value: the count is then
    taken as before, after this lookup. PostgreSQL builds the whole bitmap before reading a
    row, so it is tried only when the planner estimates the needle (`_few_hits_by_id`) at no
    more than PAIR_BITMAP_MAX rows, of which those trigrams' can only be fewer ("12": 111,000
    estimated; its trigrams' bitmap 3.6 s, where the walk takes 0.14 s). Only for ASCII
    needles, and on PostgreSQL for a needle with a letter only where the database lowers A-Z
    as ASCII does (`_letters_from_beyond_ascii`; not where a Turkish locale lowers "I" to "ı":
    a row holding "aik" would be counted for "Ik" there, which `lower()` tests as "ık").
    """
    sqlite = session.get_bind().dialect.name == "sqlite"
    if (len(needle) != 2 or not needle.isascii() or terms.shape[0] != "like"
            or OVER_CAP in terms.shape
            or not sqlite and (terms.estimate is None or terms.estimate > PAIR_BITMAP_MAX
                               or (any(c.isalpha() for c in needle)
                                   and _letters_from_beyond_ascii(session) is None))):
        return terms
    trigrams = [c + needle.lower() for c in PAIR_AFTER]
    pairs: Any = (" OR ".join(fts_phrase(t) for t in trigrams) if sqlite
                  else [like_pattern(t) for t in trigrams])
    _, exact = _pairs_counted(terms.shape, sqlite).run(session,
                                                       {**terms.params, "search_pairs": pairs})
    return terms if exact else SearchTerms((*terms.shape, OVER_CAP), terms.params)


def _held_by_pairs() -> Any:
    """The condition that a row holds one of `search_pairs` (PostgreSQL: LIKE patterns)."""
    pairs = bindparam("search_pairs", type_=ARRAY(String))
    return or_(col(Connection.account).like(any_(pairs)), col(Connection.service).like(any_(pairs)))


@lru_cache(maxsize=16)
def _pairs_counted(shape: tuple[Any, ...], sqlite: bool) -> CappedCount:
    """The capped count of the live rows holding one of `search_pairs` and matching `shape`.

    On SQLite each is tested by `shape` too: FTS5 folds the case of letters beyond ASCII,
    which LIKE does not. On PostgreSQL a row holding "x06" holds "06" for every test of the
    needle (LIKE, ILIKE, `lower()` in any collation leave ASCII lowercase as it is), and
    testing it again made the planner expect 142 rows instead of 47,160 and pay 29 ms of JIT.
    """
    test = search_clause(counted_shape((shape,))[0])  # SQLite: LIKE, not lower() LIKE lower()
    rows = (through_text_index([_LIVE, test], phrase="search_pairs") if sqlite
            else select(col(Connection.id)).where(_held_by_pairs(), _LIVE))
    return CappedCount(rows)


def _few_hits_by_id(session: Session, like: SearchTerms, needle: str) -> SearchTerms:
    """PostgreSQL: when a needle has at most FEW_HITS live hits, name them by id; else keep the
    ILIKE.

    A listing orders by id with a LIMIT. The planner estimates a substring's hits well (see
    migration 0007) but prices ILIKE as cheap, so even for a rare needle it walks the primary
    key testing every row: 225 ms at a million rows for a needle with 600 hits. A listing's
    exact count (up to COUNT_CAP) reads every hit anyway, so reading their ids once (a trigram
    bitmap) costs what that count costs, and then the page is a few probes and the count the
    number of ids (`connmodel.services.connections.HitCount`): "kim.wr" (6,904 hits at 10M)
    78 -> ~35 ms, where the walk for a page read ~70,000 rows and the count the hits again.
    Above COUNT_CAP the count stops at its cap whatever the plan, and the ILIKE's walk finds a
    page of a common needle within a few thousand rows. The planner's estimate (EXPLAIN,
    planning only) is trusted within ESTIMATE_SLACK: reading cap + 1 ids for a needle that
    has more wastes one capped read, not a walk; and when it read more than COUNT_CAP, the
    shape says so (OVER_CAP): the count of that search alone is then known to be "at least"
    (`connmodel.services.connections.CapReached`). A needle estimated at more than BITMAP_MAX
    hits is marked COMMON: beside another filter, its count and collected page test it row by
    row (see counted_shape), as its trigram bitmap costs more than that filter's rows.
    """
    estimate = _estimated_hits(session, like)
    if estimate > BITMAP_MAX:
        return SearchTerms((*like.shape, COMMON), like.params, estimate=estimate)
    if estimate > ESTIMATE_SLACK * FEW_HITS:
        return SearchTerms(like.shape, like.params, estimate=estimate)
    hits = pair_hits(session, like, needle, FEW_HITS)
    if hits is None:
        conn = session.connection()
        capped, params = _capped_hits(conn, like, needle, FEW_HITS)
        hits = list(conn.execute(capped.with_only_columns(*_HIT_COLUMNS), params).all())
    return _named_or_over_cap(like, hits, "ids", FEW_HITS)


def _named_or_over_cap(like: SearchTerms, hits: Sequence[tuple[Any, ...]], kind: str, cap: int
                       ) -> SearchTerms:
    """A search named by its live hits (`named_by_id`) when there are at most `cap`; else its
    ILIKE, marked OVER_CAP when they prove more than COUNT_CAP (its count is then "at least"
    at once): with more hits than the estimate said, the walk is the better bet."""
    if len(hits) <= cap:
        return named_by_id(kind, hits)
    return SearchTerms((*like.shape, OVER_CAP) if len(hits) > COUNT_CAP else like.shape,
                       like.params)


def pair_hits(session: Session, like: SearchTerms, needle: str, cap: int,
              conds: Sequence[ColumnElement[bool]] = ()) -> list[Any] | None:
    """(id, status, profile_id) of at most cap + 1 live rows holding a two-character ASCII
    needle (and `conds`), found through the trigrams that hold it; None where they cannot be
    (SQLite: more than `cap` rows hold those trigrams; PostgreSQL: a needle with a character
    that is not a letter or digit, or a database whose lower() does not fold A-Z as ASCII;
    either: more than ODD_MAX rows beyond ASCII, whose reading by index would cost more than
    the walk it replaces).

    No trigram is made of fewer than three characters, so a listing of such a needle read
    every row to find that it had few hits or none ("zz": 0.5 s at 1M rows, seconds at 10M).
    But every "xy" in a value is in a trigram "?xy" or, where it starts the value, "xy?".
    SQLite: FTS5's OR of those with every printable ASCII neighbour (PAIR_NEIGHBOURS, 138
    phrases read lazily in rowid order, ~1-6 ms at 1M), whose rowids `_phrase_ids` caps,
    judging from their ends whether there are more than `cap` ("a7" at 10M read 10,001 of
    them, 10 ms, before its count proved as much). PostgreSQL: pg_trgm's trigrams of letters
    and digits, found by one regular expression (an ASCII letter or digit before the needle,
    or WORD_START: pg_trgm's padded trigram " xy" of a word that starts with it), exact where
    its bitmap holds no more rows than the needle's hits ("06" at 1M: 19 ms for 4,142 hits);
    the callers ask only for a needle the planner estimates near the cap. A neighbour beyond
    ASCII cannot be listed (control characters need not be: connmodel.validation lets none
    into an account or a service), nor does a value of two characters have a trigram on
    SQLite: those rows are in the partial index `ix_connection_live_odd_text`
    (connmodel.models.ODD_TEXT), read and tested too. Every row is tested by the search
    itself (FTS5 folds letters that LIKE does not), on PostgreSQL as DENSE's `|| ''`, so that
    the planner cannot take the needle's own ILIKE to the trigram index (a whole index scan,
    for two characters).
    """
    if len(needle) != 2 or not needle.isascii() or like.shape[0] != "like":
        return None
    sqlite = session.get_bind().dialect.name == "sqlite"
    conn = session.connection()
    if sqlite:
        low = needle.lower()
        grams = sorted({c + low for c in PAIR_NEIGHBOURS} | {low + c for c in PAIR_NEIGHBOURS})
        ids = _phrase_ids(conn, {"search_phrase": " OR ".join(map(fts_phrase, grams))}, cap,
                          slack=1)
        if ids is None:
            return None
        near: ColumnElement[bool] = search_clause(("id_list",))
        params = {**like.params, "search_id_list": json.dumps(ids)}
        test = search_clause(like.shape)
    else:
        if not needle.isalnum() or _letters_from_beyond_ascii(session) is None:
            return None
        pair = bindparam("search_pair", type_=String)
        near = or_(col(Connection.account).op("~*")(pair), col(Connection.service).op("~*")(pair))
        params = {**like.params, "search_pair": f"[a-z0-9]{needle}|{WORD_START}{needle}"}
        test = search_clause(DENSE_UNCASED if UNCASED in like.shape else DENSE)
    odd = text(ODD_TEXT[conn.dialect.name])
    if not capped_count(session, select(literal(1)).where(_LIVE, odd), ODD_MAX)[1]:
        return None  # many values beyond ASCII: reading them by index would cost more
    columns = (*_HIT_COLUMNS, col(Connection.revoked_at))  # what `conds` test
    hits = union(*(select(*columns).where(found, _LIVE, test)
                   for found in (near, odd))).subquery("pair_hits")
    # `conds` on the hits, not in each half: beside a status, SQLite (no statistics) walked
    # that status's index for the odd rows instead of their own index (556,100 Error rows at
    # 10M: 0.7 s for a pair with no hit).
    on_hits = ClauseAdapter(hits)
    rows = (select(hits.c.id, hits.c.status, hits.c.profile_id)
            .where(*(on_hits.traverse(c) for c in conds)).limit(cap + 1))
    return list(conn.execute(rows, params).all())


def _grouped(hits: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """matches_by_profile's rows (profile id, status, how many, ids as comma-separated text)
    of hits read as (id, status, profile_id)."""
    groups: dict[tuple[Any, Any], list[str]] = {}
    for hit_id, status, profile_id in hits:
        groups.setdefault((profile_id, status), []).append(str(hit_id))
    return [(pid, status, len(ids), ",".join(ids)) for (pid, status), ids in groups.items()]


def _capped_hits(conn: SqlConnection, like: SearchTerms, needle: str, cap: int
                 ) -> tuple[Select[Any], dict[str, Any]]:
    """PostgreSQL: a statement of the ids of at most cap + 1 live rows matching a needle, by a
    trigram bitmap, and its parameters.

    For a long needle, of its RAREST rarest trigrams in `account` (each row then confirmed by
    the whole ILIKE): the bitmap of the whole needle reads the posting lists of all its
    trigrams, and a whole e-mail address's domain has trigrams in most rows (19 ms at 1M rows
    for one hit, against 2.6 ms). Which are rarest is read from the column's statistics.
    """
    rare = _rarest_in_statistics(conn, needle)
    if rare is None:
        _, _, capped = _probe(like.shape, conn.dialect)
        return capped.limit(cap + 1), like.params
    params = {**like.params, **{f"search_rare_{i}": like_pattern(g) for i, g in enumerate(rare)}}
    return _through_rare_trigrams(len(rare)).limit(cap + 1), params


_ACCOUNT_STATISTICS = text(
    "SELECT most_common_vals::text::text[], most_common_freqs, histogram_bounds::text::text[], "
    "null_frac FROM pg_stats WHERE schemaname = current_schema() AND tablename = 'connection' "
    "AND attname = 'account'")


def _rarest_in_statistics(conn: SqlConnection, needle: str) -> list[str] | None:
    """The RAREST rarest of a long needle's trigrams that pg_trgm indexes (letters and digits
    only) by their share of `account` in PostgreSQL's sample; None for a short needle, without
    statistics, or when even the rarest is in more than RARE_SHARE of the rows. The whole
    needle's bitmap also has the trigrams of its words' ends ("on " of "anderson@example"):
    where none of its letters and digits is rare, those answer best (5 ms against 75 ms
    through its rarest at 1M rows, for no hit).
    """
    grams = sorted(g for g in text_trigrams(needle) if g.isalnum())
    if len(grams) < LONG:
        return None
    stats = conn.execute(_ACCOUNT_STATISTICS).first()
    if stats is None or not (stats[0] or stats[2]):
        return None
    share = _trigram_shares(tuple(stats[0] or ()), tuple(stats[1] or ()), tuple(stats[2] or ()),
                            float(stats[3]))
    ranked = sorted(grams, key=lambda g: share.get(g, 0.0))
    return ranked[:RAREST] if share.get(ranked[0], 0.0) <= RARE_SHARE else None


@lru_cache(maxsize=4)
def _trigram_shares(common: tuple[str, ...], freqs: tuple[float, ...], bounds: tuple[str, ...],
                    null_frac: float) -> dict[str, float]:
    """Each trigram's estimated share of rows: the most common values by their frequency, each
    histogram bound for an equal part of the rest (PostgreSQL's sample, read once per ANALYZE)."""
    rest = (1.0 - sum(freqs) - null_frac) / len(bounds) if bounds else 0.0
    share: dict[str, float] = {}
    for value, weight in [*zip(common, freqs, strict=True), *((b, rest) for b in bounds)]:
        for gram in text_trigrams(value):
            share[gram] = share.get(gram, 0.0) + weight
    return share


@lru_cache(maxsize=4)
def _through_rare_trigrams(n: int) -> Select[Any]:
    """Live ids whose account holds each rare trigram and the needle (the trigrams' bitmap,
    then `|| ''`: a test the index does not take), or whose service holds the needle."""
    account, service = col(Connection.account), col(Connection.service)
    rare = (account.ilike(bindparam(f"search_rare_{i}", type_=String), escape="\\")
            for i in range(n))
    whole = bindparam("search_like_0", type_=String)
    return select(col(Connection.id)).where(
        or_(and_(*rare, account.concat("").ilike(whole, escape="\\")),
            service.ilike(whole, escape="\\")),
        col(Connection.revoked_at).is_(None))


def _estimated_hits(session: Session, like: SearchTerms) -> float:
    """PostgreSQL's estimate of a needle's live rows (EXPLAIN, planning only: a few ms)."""
    conn = session.connection()
    explain, compiled, _ = _probe(like.shape, conn.dialect)
    plan = conn.exec_driver_sql(explain, compiled.construct_params(like.params)).scalar_one()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return float(plan[0]["Plan"]["Plan Rows"])


@lru_cache(maxsize=8)
def _probe(shape: tuple[Any, ...], dialect: Dialect) -> tuple[str, Compiled, Select[Any]]:
    """The ids a search matches: as EXPLAIN text (with its compiled form, for the parameters)
    and as a statement capped at FEW_HITS + 1 rows."""
    ids = select(col(Connection.id)).where(search_clause(shape),
                                           col(Connection.revoked_at).is_(None))
    compiled = ids.compile(dialect=dialect)
    return "EXPLAIN (FORMAT JSON) " + compiled.string, compiled, ids.limit(FEW_HITS + 1)
