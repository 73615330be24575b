"""Every maintained summary, declared once, and the SQL generated from it.

A summary is a table of counts over the link facets: ``summaries_facets``
makes one facet per link, with its post's groups (author, publication, year,
tags), its placement, verdict, rel class, whether it is lost, and the month it
was first seen. Each :class:`Summary` below names its table's key, each count as
an aggregate over those facets, and the rows it reads (every facet, one per
tag, or one per group). From the declarations this module generates:

- the recount: each table as a GROUP BY over the facets of a range of links
  (:func:`range_sql`), which ``harvest db check`` compares with the table and
  ``--repair`` puts in its place (``harvest.db.summaries``);
- the fold's step for each count that adds up: the pending facets' signed
  ``sum(sign)`` under the same filter, added to the table's row in one upsert,
  and the rows it leaves at zero deleted where the table is ``pruned``;
- the column lists that ``harvest.db.summaries`` compares, and the check's
  "a row of zeros is no row".

Counts that do not add up (distinct posts, authors, publications and domains,
and the newest month) are kept by the hand-written fold steps at the end of
this module (:data:`_BY_HAND`): each reads the links the fold touches, or
what the generated upserts return, and adds the change in its distinct count.
The generated recount checks them like every other count.

A summary keyed by domain that only a domain's own report reads may be
declared ``large_domains_only``: it keeps rows for the domains of
:data:`LARGE_DOMAIN` links or more, and the report counts a smaller domain's
from its links (:func:`small_domain_sql`, the same recount, over at most that
many links). The fold gives a domain its rows in the fold that takes it over
the line and drops them in the one that takes it back under; installing the
layer brings the tables to the threshold installed (``summaries_regate``).

``harvest db migrate`` installs the fold this module generates
(:func:`layer_sql`) after the last migration, and again whenever the text
changes: the checksum of the installed text is in ``summary_layer``.

To add a count: a migration adds its column (``ALTER TABLE ... ADD COLUMN c
integer NOT NULL DEFAULT 0``); declare it here with its filter (or as a
distinct count, with a fold step that keeps it); run ``harvest db migrate``,
then ``harvest db check --repair`` to fill it from the links. To add a table:
its migration creates it with the key's unique index; declare it here.
tests/db/test_summary_defs.py holds every declaration to its table's columns
and unique index, and tests/db/test_summaries.py every count to a recount.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

# The fold's advisory lock ('hrfd', 0), as summaries_fold() takes it: one fold
# at a time, and no layer installed under one.
FOLD_LOCK = (0x68726664, 0)

# A domain with fewer links than this (live and lost: domain_totals' links +
# lost) has no rows in the summaries declared ``large_domains_only``: its
# report counts them from its links when asked (at most this many, off
# links_domain_page_idx), and the long tail of domains, each linked from a
# handful of posts, keeps no row per link there. At 10^7 links the domains
# under 1,000 links hold 45 % of the links and 95 % of domain_stats' rows.
# Installed as large_domain(), which the fold, the recount and the readers
# call.
LARGE_DOMAIN = 1000


def large(alias: str) -> str:
    """Whether the domain_totals row ``alias`` is a large domain's."""
    return f"{alias}.links + {alias}.lost >= large_domain()"


# Filters over a facet, by name. A count without one counts every facet its
# summary reads.
WHERE = {
    "live": "NOT lost",
    "lost": "lost",
    "nofollow": "NOT lost AND nofollow",
    "ugc": "NOT lost AND ugc",
    "sponsored": "NOT lost AND sponsored",
    "dofollow": "NOT lost AND NOT (nofollow OR ugc OR sponsored)",
    "lost_dofollow": "lost AND NOT (nofollow OR ugc OR sponsored)",
    "passing": "reason = 'follow'",
    "published": "NOT lost AND publication_id IS NOT NULL",
}

# The rows a summary reads, over a relation of facets ({f}).
SOURCES = {
    "facets": "{f}",
    "tags": "{f} CROSS JOIN LATERAL unnest(tags) AS t(tag)",
    # '' stands for "every tag": a group's row without a tag
    "groups": "{f} CROSS JOIN LATERAL unnest('{\"\"}'::text[] || tags) AS t(tag)",
    # one row per tag and one for the publication
    "tag_or_publication": (
        "{f} CROSS JOIN LATERAL (SELECT u.tag, NULL::bigint FROM unnest(tags) AS u(tag) "
        "UNION ALL SELECT NULL, publication_id WHERE publication_id IS NOT NULL) AS g(tag, pub)"
    ),
    # each domain's and each post's newest month of live links
    "newest": (
        "(SELECT max(seen) AS seen, domain_id, NULL::bigint AS post_id FROM {f} "
        "WHERE NOT lost GROUP BY domain_id "
        "UNION ALL SELECT max(seen), NULL, post_id FROM {f} WHERE NOT lost GROUP BY post_id) n"
    ),
}

# The recount reads the links in ranges of one of these columns, a pass per
# column, so that its temporary space is a range's, not the harvest's.
PASSES = ("domain_id", "post_id")

_STATS = ("links", "lost", "nofollow", "ugc", "sponsored", "dofollow", "lost_dofollow")
_LIVE = ("links", "nofollow", "ugc", "sponsored", "dofollow")


@dataclass(frozen=True, slots=True)
class Count:
    """One counter column: how many facets pass ``where``, or (``distinct``)
    how many different values of a facet column they hold, or (``newest``)
    the greatest value of one."""

    column: str
    where: str | None = None
    distinct: str | None = None
    newest: str | None = None

    @property
    def adds(self) -> bool:
        return self.distinct is None and self.newest is None

    def recount(self) -> str:
        if self.newest:
            agg = f"max({self.newest})"
        elif self.distinct:
            agg = f"count(DISTINCT {self.distinct})"
        else:
            agg = "count(*)"
        return agg + (f" FILTER (WHERE {WHERE[self.where]})" if self.where else "")

    def delta(self) -> str:
        assert self.adds, self.column
        if self.where is None:
            return "sum(sign)"
        return f"coalesce(sum(sign) FILTER (WHERE {WHERE[self.where]}), 0)"


def _counts(*columns: str, **where: str | None) -> tuple[Count, ...]:
    """Counters named after their filter (``links`` counts every facet read),
    unless ``where`` gives a column another."""
    return tuple(Count(c, where.get(c, None if c == "links" else c)) for c in columns)


@dataclass(frozen=True, slots=True)
class Summary:
    table: str
    # key columns in the table's order; a pair is (column, expression)
    key: tuple[str | tuple[str, str], ...]
    counts: tuple[Count, ...]
    source: str = "facets"
    where: str | None = None
    # the unique index's columns, when their order is not the key's
    unique: tuple[str, ...] | None = None
    # key columns that may be NULL (no publication, no year, no tag): matched
    # with IS NOT DISTINCT FROM, which no index serves, so only these
    nullable: tuple[str, ...] = ()
    # rows whose counts all fall to zero are deleted (readers list the rows)
    pruned: bool = False
    # the recount's pass column an index of the table leads with: the check
    # compares the table range by range, the rebuild fills it so
    ranged: str | None = None
    # rows only for domains of LARGE_DOMAIN links or more (the others are
    # counted from their links when read: small_domain_sql)
    large_domains_only: bool = False
    why: str = ""

    @property
    def key_columns(self) -> tuple[str, ...]:
        return tuple(k if isinstance(k, str) else k[0] for k in self.key)

    @property
    def key_exprs(self) -> tuple[str, ...]:
        return tuple(k if isinstance(k, str) else f"{k[1]} AS {k[0]}" for k in self.key)

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.key_columns, *(c.column for c in self.counts))

    @property
    def conflict(self) -> tuple[str, ...]:
        return self.unique or self.key_columns

    @property
    def order(self) -> str:
        """ORDER BY positions of the unique index's columns, for rows laid out
        as the table's."""
        return ", ".join(str(self.columns.index(c) + 1) for c in self.conflict)

    @property
    def adds(self) -> bool:
        return all(c.adds for c in self.counts)

    @property
    def zero_columns(self) -> tuple[str, ...]:
        """The counts whose all being zero means no row (a newest month is
        never zero: its row is its whole content)."""
        return tuple(c.column for c in self.counts if not c.newest)

    def pass_of(self, count: Count) -> str:
        """The recount pass (:data:`PASSES`) whose ranges count ``count`` exactly:
        one whose column is in the key (a key's facets all fall in one range),
        else the column it counts distinct values of, else any (it adds up)."""
        for column in PASSES:
            if column in self.key_columns:
                return column
        if count.distinct in PASSES:
            return count.distinct
        assert count.adds, f"{self.table}.{count.column} is exact in no recount pass"
        return PASSES[-1]

    @property
    def passes(self) -> tuple[str, ...]:
        return tuple(p for p in PASSES if any(self.pass_of(c) == p for c in self.counts))

    def _rows(self, facets: str) -> str:
        return SOURCES[self.source].replace("{f}", facets)

    def _from(self, facets: str) -> str:
        where = f" WHERE {WHERE[self.where]}" if self.where else ""
        return self._rows(facets) + where

    def _group_by(self) -> str:
        return ", ".join(str(n) for n in range(1, len(self.key) + 1))

    def recount_sql(self, facets: str, pass_: str | None = None) -> str:
        """The table's rows, counted from a relation of facets (in a pass, the
        counts exact in another are left at zero, for that pass to add)."""
        counts = ", ".join(
            f"{c.recount() if pass_ in (None, self.pass_of(c)) else '0::bigint'} AS {c.column}"
            for c in self.counts
        )
        return (
            f"SELECT {', '.join(self.key_exprs)}, {counts} "
            f"FROM {self._from(facets)} GROUP BY {self._group_by()}"
        )

    def difference_sql(self, recount: str, where: str = "") -> str:
        """How many rows the table (its rows ``where``, if given) and a recount
        of it do not share; a table's row of zeros is no row."""
        columns = ", ".join(self.columns)
        kept = " OR ".join(f"{c} <> 0" for c in self.zero_columns) or "true"
        kept = f"({kept})" + (f" AND {where}" if where else "")
        return (
            f"SELECT count(*) FROM ((SELECT {columns} FROM {self.table} WHERE {kept} "
            f"EXCEPT ALL SELECT {columns} FROM {recount}) UNION ALL "
            f"(SELECT {columns} FROM {recount} "
            f"EXCEPT ALL SELECT {columns} FROM {self.table} WHERE {kept})) d"
        )

    def delta_sql(self, facets: str) -> str:
        """The signed change of each count that adds up, by key, over facets."""
        adding = [c for c in self.counts if c.adds]
        return (
            f"SELECT {', '.join(self.key_exprs)}, "
            f"{', '.join(f'{c.delta()} AS {c.column}' for c in adding)} "
            f"FROM {self._from(facets)} GROUP BY {self._group_by()}"
        )

    def upsert_sql(self, rows: str, returning: str = "", into: str = "") -> str:
        """Add rows (every column of the table, counts as changes) to the
        table (or to ``into``, a table like it), one write per row, in the
        unique index's order."""
        counts = self.zero_columns
        nonzero = " OR ".join(f"{c} <> 0" for c in counts)
        sets = ", ".join(f"{c} = s.{c} + EXCLUDED.{c}" for c in counts)
        return (
            f"INSERT INTO {into or self.table} AS s ({', '.join(self.columns)}) "
            f"SELECT * FROM {rows} WHERE {nonzero} ORDER BY {self.order} "
            f"ON CONFLICT ({', '.join(self.conflict)}) DO UPDATE SET {sets}"
            + (f" RETURNING {returning}" if returning else "")
        )

    def prune_sql(self, facets: str) -> str:
        """Delete the rows a shrinking fold left with every count at zero."""
        keys = self.key_columns
        match = " AND ".join(
            f"s.{k} IS NOT DISTINCT FROM d.{k}" if k in self.nullable else f"s.{k} = d.{k}"
            for k in keys
        )
        zero = " AND ".join(f"s.{c} = 0" for c in self.zero_columns)
        where = "sign < 0" + (f" AND {WHERE[self.where]}" if self.where else "")
        return (
            f"DELETE FROM {self.table} s USING (SELECT DISTINCT {', '.join(self.key_exprs)} "
            f"FROM {self._rows(facets)} WHERE {where}) d WHERE {match} AND {zero}"
        )


SUMMARIES: tuple[Summary, ...] = (
    Summary(
        "domain_stats",
        ("domain_id", "year", "placement", "reason"),
        _counts(*_STATS),
        ranged="domain_id",
        nullable=("year",),
        large_domains_only=True,
        why="`report --domain`: its links by year published, placement and verdict",
    ),
    Summary(
        "group_stats",
        ("publication_id", "tag", "year", "placement", "reason"),
        _counts(*_STATS),
        source="groups",
        unique=("tag", "publication_id", "year", "placement", "reason"),
        nullable=("publication_id", "year"),
        why="`report --publication`; the report's tables by publication",
    ),
    Summary(
        "tag_stats",
        ("tag", "year", "placement", "reason"),
        _counts(*_STATS),
        source="groups",
        nullable=("year",),
        why="`stats`, the whole report, `report --tag`",
    ),
    Summary(
        "publication_stats",
        ("publication_id", "placement"),
        _counts(*_LIVE),
        where="live",
        nullable=("publication_id",),
        why="the report's live links by publication",
    ),
    Summary(
        "domain_totals",
        ("domain_id",),
        (
            *_counts(
                "links", "lost", "nofollow", "ugc", "sponsored", "dofollow", "passing", links="live"
            ),
            Count("posts", "live", distinct="post_id"),
            Count("authors", "live", distinct="author_id"),
            Count("publications", "live", distinct="publication_id"),
        ),
        ranged="domain_id",
        why="`top-domains`, backlinks' totals, `domain_summary`",
    ),
    Summary(
        "domain_dofollow_posts",
        ("domain_id", "post_id"),
        (Count("dofollow"),),
        where="dofollow",
        pruned=True,
        ranged="domain_id",
        large_domains_only=True,
        why="`report --domain`: the posts with the most dofollow links to it",
    ),
    Summary(
        "domain_publications",
        ("domain_id", "publication_id"),
        _counts(*_LIVE),
        where="live",
        pruned=True,
        ranged="domain_id",
        nullable=("publication_id",),
        why=(
            "live links by publication to a domain; `report --publication`'s top "
            "domains, in link order off `domain_publications_top_idx` (rows of 10 "
            "links or more)"
        ),
    ),
    Summary(
        "post_groups",
        ("post_id", "publication_id", "year", "tags"),
        _counts("links", "dofollow"),
        where="live",
        pruned=True,
        ranged="post_id",
        nullable=("publication_id", "year"),
        why="the posts with the most dofollow links of a group; what moves `group_posts`",
    ),
    Summary(
        "group_posts",
        ("publication_id", "tag", "year"),
        (Count("posts", distinct="post_id"),),
        source="groups",
        where="live",
        unique=("tag", "publication_id", "year"),
        nullable=("publication_id", "year"),
        why="posts with live links per publication, tag and year",
    ),
    Summary(
        "publication_domains",
        ("publication_id", "domain_id"),
        (Count("posts", distinct="post_id"),),
        where="published",
        pruned=True,
        why=(
            "`report --publication`: the posts behind its top domains, and its "
            "domains where few rows reach 10 links"
        ),
    ),
    Summary(
        "tag_domains",
        ("tag", "domain_id"),
        (*_counts(*_LIVE), Count("posts", distinct="post_id")),
        source="tags",
        where="live",
        pruned=True,
        why="`report --tag`'s top domains, with their posts",
    ),
    Summary(
        "tag_publications",
        ("tag", "publication_id", "placement"),
        _counts(*_LIVE),
        source="tags",
        where="live",
        nullable=("publication_id",),
        why="`report --tag` by publication; `report --publication` by tag",
    ),
    Summary(
        "tag_dofollow_posts",
        ("tag", "post_id"),
        (Count("dofollow"),),
        source="tags",
        where="dofollow",
        pruned=True,
        why="`report --tag`'s posts with the most dofollow links, in index order",
    ),
    Summary(
        "group_domain_totals",
        (("tag", "g.tag"), ("publication_id", "g.pub")),
        (Count("domains", distinct="domain_id"),),
        source="tag_or_publication",
        where="live",
        nullable=("tag", "publication_id"),
        why="how many domains a tag or publication reaches",
    ),
    Summary(
        "seen_stats",
        ("seen", "year", "placement", "reason"),
        _counts(*_STATS),
        nullable=("year",),
        why="`report --since` (the first of a month): its totals, by year, placement and verdict",
    ),
    Summary(
        "seen_publications",
        ("seen", "publication_id", "placement"),
        _counts(*_LIVE),
        where="live",
        nullable=("publication_id",),
        why="`report --since` by publication",
    ),
    Summary(
        "seen_tags",
        ("seen", "tag"),
        _counts(*_LIVE),
        source="tags",
        where="live",
        why="`report --since` by tag",
    ),
    Summary(
        "seen_domains",
        ("seen", "domain_id"),
        _counts(*_LIVE),
        where="live",
        pruned=True,
        ranged="domain_id",
        why="`report --since`'s top domains",
    ),
    Summary(
        "seen_posts",
        ("seen", "post_id"),
        _counts("links", "dofollow"),
        where="live",
        pruned=True,
        ranged="post_id",
        why="`report --since`'s posts with the most dofollow links",
    ),
    Summary(
        "domain_last_seen",
        ("domain_id",),
        (Count("seen", newest="seen"),),
        where="live",
        ranged="domain_id",
        why="the newest month with a live link to the domain first seen in it",
    ),
    Summary(
        "post_last_seen",
        ("post_id",),
        (Count("seen", newest="seen"),),
        where="live",
        ranged="post_id",
        why="the same for a post",
    ),
    Summary(
        "seen_last_counts",
        ("seen",),
        (Count("domains", distinct="domain_id"), Count("posts", distinct="post_id")),
        source="newest",
        why=(
            "how many domains and posts have each month as their newest: those "
            "since a month, as a sum"
        ),
    ),
)
BY_TABLE = {s.table: s for s in SUMMARIES}

DELTA = "pg_temp.summary_delta"


def _s(table: str) -> Summary:
    return BY_TABLE[table]


# The fold steps of the counts that do not add up, in the order they run.
# fold_pairs holds each (domain, post) pair the fold touches: its net change
# of live links and its live links now, read from links (0012). Folds are
# serialized and read links in the snapshot of the facets they take (0011),
# so a pair's count before the fold is its count now less the change: a
# distinct count moves by one where that crosses zero.
_PAIRS = f"""
    INSERT INTO pg_temp.fold_pairs
    SELECT d.domain_id, d.post_id, d.delta, coalesce(n.live, 0)
    FROM (SELECT domain_id, post_id, sum(sign) AS delta
          FROM {DELTA} WHERE NOT lost GROUP BY 1, 2) d
    LEFT JOIN (SELECT l.domain_id, l.post_id, count(*) AS live
               FROM links l
               WHERE l.post_id IN (SELECT post_id FROM {DELTA} WHERE NOT lost)
                 AND l.lost_at IS NULL
               GROUP BY 1, 2) n USING (domain_id, post_id);
    ANALYZE pg_temp.fold_pairs;
    INSERT INTO pg_temp.domain_moves (domain_id, posts)
    SELECT domain_id, sum((live > 0)::int - (live - delta > 0)::int)
    FROM pg_temp.fold_pairs GROUP BY 1;
"""

# Distinct authors per domain: the live links of the touched authors' posts,
# grouped once per author (one index range per post), against the change.
_AUTHORS = f"""
    WITH d AS (
        SELECT domain_id, author_id, sum(sign) AS delta
        FROM {DELTA} WHERE NOT lost AND author_id IS NOT NULL GROUP BY 1, 2
        HAVING sum(sign) <> 0
    ), authors AS MATERIALIZED (
        SELECT DISTINCT author_id FROM d
    ), live AS (
        SELECT l.domain_id, p.author_id, count(*) AS links
        FROM authors a JOIN posts p ON p.author_id = a.author_id
        JOIN links l ON l.post_id = p.post_id
        WHERE l.lost_at IS NULL
        GROUP BY 1, 2
    )
    INSERT INTO pg_temp.domain_moves (domain_id, authors)
    SELECT d.domain_id, sum((coalesce(live.links, 0) > 0)::int
                            - (coalesce(live.links, 0) - d.delta > 0)::int)
    FROM d LEFT JOIN live USING (domain_id, author_id) GROUP BY 1;
"""

# Distinct publications per domain: a domain_publications row whose links
# rose from zero (its upsert returns the sum equal to the change) or fell to
# it.
_PUBLICATIONS = f"""
    WITH d AS ({_s("domain_publications").delta_sql(DELTA)}),
    up AS ({_s("domain_publications").upsert_sql("d", "s.domain_id, s.publication_id, s.links")}),
    came AS (
        SELECT up.domain_id,
               sum(CASE WHEN up.links > 0 AND up.links = d.links THEN 1
                        WHEN up.links = 0 AND d.links < 0 THEN -1 ELSE 0 END) AS n
        FROM up JOIN d ON d.domain_id = up.domain_id
                      AND d.publication_id IS NOT DISTINCT FROM up.publication_id
        WHERE up.publication_id IS NOT NULL GROUP BY 1
    )
    INSERT INTO pg_temp.domain_moves (domain_id, publications)
    SELECT domain_id, n FROM came WHERE n <> 0;
"""

# domain_totals: the counts that add up, and the distinct ones moved above,
# in one write per domain (0018).
_TOTALS = f"""
    WITH c AS ({_s("domain_totals").delta_sql(DELTA)}),
    m AS (SELECT domain_id, sum(posts) AS posts, sum(authors) AS authors,
                 sum(publications) AS publications
          FROM pg_temp.domain_moves GROUP BY 1),
    d AS (SELECT domain_id, coalesce(c.links, 0) AS links, coalesce(c.lost, 0) AS lost,
                 coalesce(c.nofollow, 0) AS nofollow, coalesce(c.ugc, 0) AS ugc,
                 coalesce(c.sponsored, 0) AS sponsored, coalesce(c.dofollow, 0) AS dofollow,
                 coalesce(c.passing, 0) AS passing, coalesce(m.posts, 0) AS posts,
                 coalesce(m.authors, 0) AS authors,
                 coalesce(m.publications, 0) AS publications
          FROM c FULL JOIN m USING (domain_id))
    {_s("domain_totals").upsert_sql("d")};
"""

# Distinct posts per group (publication, tag, year): a post_groups row whose
# links rose from zero or fell to it moves each of its groups by one.
_POST_GROUPS_UP = _s("post_groups").upsert_sql(
    "d", "s.post_id, s.publication_id, s.year, s.tags, s.links"
)
_GROUP_POSTS = f"""
    WITH d AS ({_s("post_groups").delta_sql(DELTA)}),
    up AS ({_POST_GROUPS_UP}),
    came AS (
        SELECT up.publication_id, g.tag, up.year,
               sum(CASE WHEN up.links > 0 AND up.links = d.links THEN 1
                        WHEN up.links = 0 AND d.links < 0 THEN -1 ELSE 0 END) AS posts
        FROM up JOIN d ON d.post_id = up.post_id
                      AND d.publication_id IS NOT DISTINCT FROM up.publication_id
                      AND d.year IS NOT DISTINCT FROM up.year AND d.tags = up.tags
        CROSS JOIN LATERAL unnest('{{""}}'::text[] || up.tags) AS g(tag)
        GROUP BY 1, 2, 3
    )
    {_s("group_posts").upsert_sql("came")};
"""

# Distinct posts per (tag, domain) and per (publication, domain), and distinct
# domains per tag and per publication: per group, a post's live links to a
# domain gained or lost, and how many it has there afterwards (a post that
# left the group has none there).
_PUBLICATION_DOMAINS_UP = _s("publication_domains").upsert_sql(
    "came", "s.publication_id, s.domain_id, s.posts"
)
_GROUP_DOMAINS = f"""
    WITH d AS (
        SELECT t.tag, NULL::bigint AS publication_id, domain_id, post_id, sum(sign) AS delta
        FROM {DELTA} CROSS JOIN LATERAL unnest(tags) AS t(tag)
        WHERE NOT lost GROUP BY 1, 3, 4
        UNION ALL
        SELECT NULL, publication_id, domain_id, post_id, sum(sign)
        FROM {DELTA} WHERE NOT lost AND publication_id IS NOT NULL
        GROUP BY 2, 3, 4
    )
    INSERT INTO pg_temp.group_domain_delta
    SELECT d.tag, d.publication_id, d.domain_id, d.delta,
           CASE WHEN d.tag = ANY (p.tags) OR d.publication_id = p.publication_id
                THEN pair.live ELSE 0 END
    FROM d JOIN pg_temp.fold_pairs pair USING (domain_id, post_id)
    JOIN posts p USING (post_id)
    WHERE d.delta <> 0;

    WITH counts AS ({_s("tag_domains").delta_sql(DELTA)}),
    came AS (
        SELECT tag, domain_id, sum((after > 0)::int - (after - delta > 0)::int) AS posts
        FROM pg_temp.group_domain_delta WHERE tag IS NOT NULL GROUP BY 1, 2
    ),
    d AS (
        SELECT tag, domain_id, coalesce(c.links, 0) AS links, coalesce(c.nofollow, 0) AS nofollow,
               coalesce(c.ugc, 0) AS ugc, coalesce(c.sponsored, 0) AS sponsored,
               coalesce(c.dofollow, 0) AS dofollow, coalesce(came.posts, 0) AS posts
        FROM counts c FULL JOIN came USING (tag, domain_id)
    ),
    up AS ({_s("tag_domains").upsert_sql("d", "s.tag, s.domain_id, s.posts")}),
    moved AS (
        SELECT up.tag, NULL::bigint AS publication_id,
               sum((up.posts > 0)::int - (up.posts - d.posts > 0)::int) AS domains
        FROM up JOIN d USING (tag, domain_id) GROUP BY 1
    )
    {_s("group_domain_totals").upsert_sql("moved")};

    WITH came AS (
        SELECT publication_id, domain_id, sum((after > 0)::int - (after - delta > 0)::int) AS posts
        FROM pg_temp.group_domain_delta WHERE publication_id IS NOT NULL GROUP BY 1, 2
    ),
    up AS ({_PUBLICATION_DOMAINS_UP}),
    moved AS (
        SELECT NULL::text AS tag, up.publication_id,
               sum((up.posts > 0)::int - (up.posts - came.posts > 0)::int) AS domains
        FROM up JOIN came USING (publication_id, domain_id) GROUP BY 2
    )
    {_s("group_domain_totals").upsert_sql("moved")};
"""

# Each domain's and post's newest month of live links, and how many domains
# and posts each month is the newest of: the touched ones' newest month now
# (off seen_domains and seen_posts, folded above: every row left has live
# links) against the one kept.
_NEWEST = f"""
    INSERT INTO pg_temp.seen_last_delta
    SELECT * FROM (
        SELECT t.domain_id, NULL::bigint, l.seen,
               (SELECT max(s.seen) FROM seen_domains s WHERE s.domain_id = t.domain_id)
        FROM (SELECT DISTINCT domain_id FROM {DELTA} WHERE NOT lost) t
        LEFT JOIN domain_last_seen l ON l.domain_id = t.domain_id
        UNION ALL
        SELECT NULL, t.post_id, l.seen,
               (SELECT max(s.seen) FROM seen_posts s WHERE s.post_id = t.post_id)
        FROM (SELECT DISTINCT post_id FROM {DELTA} WHERE NOT lost) t
        LEFT JOIN post_last_seen l ON l.post_id = t.post_id
    ) d(domain_id, post_id, was, now)
    WHERE was IS DISTINCT FROM now;

    INSERT INTO domain_last_seen AS s (domain_id, seen)
    SELECT domain_id, now FROM pg_temp.seen_last_delta
    WHERE domain_id IS NOT NULL AND now IS NOT NULL ORDER BY 1
    ON CONFLICT (domain_id) DO UPDATE SET seen = EXCLUDED.seen;
    INSERT INTO post_last_seen AS s (post_id, seen)
    SELECT post_id, now FROM pg_temp.seen_last_delta
    WHERE post_id IS NOT NULL AND now IS NOT NULL ORDER BY 1
    ON CONFLICT (post_id) DO UPDATE SET seen = EXCLUDED.seen;
    WITH d AS (
        SELECT seen, coalesce(sum(n) FILTER (WHERE domain_id IS NOT NULL), 0) AS domains,
               coalesce(sum(n) FILTER (WHERE post_id IS NOT NULL), 0) AS posts
        FROM (SELECT domain_id, post_id, now AS seen, 1 AS n FROM pg_temp.seen_last_delta
              WHERE now IS NOT NULL
              UNION ALL
              SELECT domain_id, post_id, was, -1 FROM pg_temp.seen_last_delta
              WHERE was IS NOT NULL) moved
        GROUP BY 1
    )
    {_s("seen_last_counts").upsert_sql("d")};
    IF EXISTS (SELECT 1 FROM pg_temp.seen_last_delta WHERE now IS NULL) THEN
        DELETE FROM domain_last_seen s USING pg_temp.seen_last_delta d
        WHERE d.now IS NULL AND s.domain_id = d.domain_id;
        DELETE FROM post_last_seen s USING pg_temp.seen_last_delta d
        WHERE d.now IS NULL AND s.post_id = d.post_id;
    END IF;
"""

# The hand-written steps in the order they run, each with the tables it keeps
# (the counts that add up in them come from their declarations all the same;
# a pruned one's rows at zero go by the generated prune after its step).
# Authors and the pairs move domain_totals' distinct counts; each step reads
# only what the steps before it wrote.
_BY_HAND: tuple[tuple[str, tuple[str, ...]], ...] = (
    (_NEWEST, ("domain_last_seen", "post_last_seen", "seen_last_counts")),
    (_GROUP_DOMAINS, ("tag_domains", "publication_domains", "group_domain_totals")),
    (_AUTHORS, ()),
    (_PUBLICATIONS, ("domain_publications",)),
    (_TOTALS, ("domain_totals",)),
    (_GROUP_POSTS, ("post_groups", "group_posts")),
)
KEPT_BY_HAND = frozenset(t for _, tables in _BY_HAND for t in tables)
for _summary in SUMMARIES:
    # a count that does not add up needs a step that keeps it
    assert _summary.adds or _summary.table in KEPT_BY_HAND, _summary.table
    # every count is exact in some recount pass; a ranged table's key holds its pass
    assert _summary.passes, _summary.table
    assert _summary.ranged is None or _summary.passes == (_summary.ranged,), _summary.table
    assert _summary.ranged or not any(c.newest for c in _summary.counts), _summary.table
    # the large domains' tables: whole domains in a range, counts that add up,
    # and a fold step of their own (_large_step)
    assert not _summary.large_domains_only or (
        _summary.ranged == "domain_id" and _summary.adds and _summary.table not in KEPT_BY_HAND
    ), _summary.table
_LARGE_ONLY = tuple(s for s in SUMMARIES if s.large_domains_only)
# The one whose rows every link of a large domain shows in: a large domain
# without rows there has none anywhere (summaries_regate).
_LARGE_MARKER = next(
    s for s in _LARGE_ONLY if s.where is None and s.source == "facets" and "links" in s.columns
)

_TEMP_TABLES = {
    # (a session that folded before 0020 keeps its older summary_pairs: the
    # pairs have a name of their own since)
    "fold_pairs": "domain_id bigint NOT NULL, post_id bigint NOT NULL, delta bigint NOT NULL, "
    "live bigint NOT NULL",
    "domain_moves": "domain_id bigint NOT NULL, posts bigint NOT NULL DEFAULT 0, "
    "authors bigint NOT NULL DEFAULT 0, publications bigint NOT NULL DEFAULT 0",
    "group_domain_delta": "tag text, publication_id bigint, domain_id bigint NOT NULL, "
    "delta bigint NOT NULL, after bigint NOT NULL",
    "seen_last_delta": "domain_id bigint, post_id bigint, was date, now date",
    "large_moves": "domain_id bigint NOT NULL, large boolean NOT NULL",
}
_CREATE_TEMP = "".join(
    f"    IF to_regclass('pg_temp.{name}') IS NULL THEN\n"
    f"        CREATE TEMP TABLE {name} ({columns}) ON COMMIT DELETE ROWS;\n"
    "    END IF;\n"
    for name, columns in _TEMP_TABLES.items()
)


_FACETS_OF_LINKS = (
    "SELECT f.* FROM links l JOIN posts p ON p.post_id = l.post_id, "
    "LATERAL summaries_facets(1, l, p) f"
)


def _links_facets(where: str) -> str:
    """The facets of the links ``where`` picks (links as l), as a relation."""
    return f"({_FACETS_OF_LINKS} WHERE {where}) lf"


def small_domain_sql(table: str) -> str:
    """A large-domains-only table's rows for the domain %(domain_id)s, counted
    from its links: what a reader reads in its place for a smaller domain."""
    summary = BY_TABLE[table]
    assert summary.large_domains_only, table
    return summary.recount_sql(_links_facets("l.domain_id = %(domain_id)s"))


def _large_facets(facets: str) -> str:
    """The facets of the domains that were large before this fold."""
    return (
        f"(SELECT * FROM {facets} d WHERE EXISTS (SELECT 1 FROM domain_totals t "
        f"WHERE t.domain_id = d.domain_id AND {large('t')})) ld"
    )


def _large_step() -> str:
    """After domain_totals has moved: a domain that became large gets its
    rows, counted from its links (the fold reads them in its facets' snapshot,
    and skipped the domain in the upserts before); one that became small loses
    them."""
    moved = "SELECT domain_id FROM pg_temp.large_moves WHERE large"
    promoted = _links_facets(f"l.domain_id IN ({moved})")
    out = f"""
    INSERT INTO pg_temp.large_moves
    SELECT t.domain_id, {large("t")}
    FROM (SELECT domain_id, sum(sign) AS n FROM {DELTA} GROUP BY 1 HAVING sum(sign) <> 0) d
    JOIN domain_totals t ON t.domain_id = d.domain_id
    WHERE ({large("t")}) <> (t.links + t.lost - d.n >= large_domain());
    IF FOUND THEN
        -- (a handful of domains: without statistics the planner takes it for
        -- a thousand and reads all of links instead of their index ranges)
        ANALYZE pg_temp.large_moves;
"""
    for s in _LARGE_ONLY:
        out += (
            f"        DELETE FROM {s.table} s USING pg_temp.large_moves m "
            "WHERE s.domain_id = m.domain_id AND NOT m.large;\n"
            f"        INSERT INTO {s.table} {s.recount_sql(promoted)} ORDER BY {s.order};\n"
        )
    return out + "    END IF;\n"


def regate_sql() -> str:
    """``summaries_regate()``, run where migrate installs the layer: the
    large-domains-only tables brought to large_domain() as it is now. A small
    domain's rows go; a large one without rows gets them from its links, less
    what is pending for it (one statement a table: one snapshot for both)."""
    chosen = "SELECT domain_id FROM pg_temp.large_moves"
    body = _CREATE_TEMP
    for s in _LARGE_ONLY:
        body += (
            f"    DELETE FROM {s.table} s USING domain_totals t "
            f"WHERE t.domain_id = s.domain_id AND NOT ({large('t')});\n"
        )
    body += (
        "    INSERT INTO pg_temp.large_moves\n"
        f"    SELECT t.domain_id, true FROM domain_totals t WHERE {large('t')}\n"
        f"      AND NOT EXISTS (SELECT 1 FROM {_LARGE_MARKER.table} s "
        "WHERE s.domain_id = t.domain_id);\n"
        "    ANALYZE pg_temp.large_moves;\n"
    )
    for s in _LARGE_ONLY:
        keys = ", ".join(s.key_columns)
        counts = s.zero_columns
        linked = s.recount_sql(_links_facets(f"l.domain_id IN ({chosen})"))
        pending = s.delta_sql(
            f"(SELECT * FROM summary_pending_facets WHERE domain_id IN ({chosen})) pf"
        )
        negated = ", ".join(f"-{c}" for c in counts)
        sums = ", ".join(f"sum({c})" for c in counts)
        nonzero = " OR ".join(f"sum({c}) <> 0" for c in counts)
        body += (
            f"    INSERT INTO {s.table} SELECT {keys}, {sums} FROM ({linked} "
            f"UNION ALL SELECT {keys}, {negated} FROM ({pending}) n) x "
            f"GROUP BY {keys} HAVING {nonzero} ORDER BY {s.order};\n"
        )
    body += "    TRUNCATE pg_temp.large_moves;\n"
    return (
        "CREATE OR REPLACE FUNCTION summaries_regate() RETURNS void LANGUAGE plpgsql "
        f"AS $regate$\nBEGIN\n{body}END\n$regate$;\n"
    )


def _prune_step(summary: Summary) -> str:
    if not summary.pruned:
        return ""
    return f"    IF shrinks THEN\n        {summary.prune_sql(DELTA)};\n    END IF;\n"


def apply_sql() -> str:
    """``summaries_apply()``: the fold of ``pg_temp.summary_delta`` into every
    summary."""
    steps = [_CREATE_TEMP, _PAIRS]
    for s in SUMMARIES:
        if s.table not in KEPT_BY_HAND:
            facets = _large_facets(DELTA) if s.large_domains_only else DELTA
            steps += [f"    {s.upsert_sql('(' + s.delta_sql(facets) + ') d')};\n", _prune_step(s)]
    for step, tables in _BY_HAND:
        steps += [step, *(_prune_step(BY_TABLE[t]) for t in tables)]
    steps.append(_large_step())
    steps.append(f"    TRUNCATE {', '.join('pg_temp.' + t for t in _TEMP_TABLES)};\n")
    body = "".join(steps)
    return (
        "CREATE OR REPLACE FUNCTION summaries_apply() RETURNS void LANGUAGE plpgsql AS $layer$\n"
        "DECLARE\n"
        "    -- only a fold that took rows away can leave a row at zero\n"
        f"    shrinks boolean := EXISTS (SELECT 1 FROM {DELTA} WHERE sign < 0);\n"
        f"BEGIN\n{body}END\n$layer$;\n"
    )


def _between(column: str, low: int | None, high: int | None) -> str:
    parts = []
    if low is not None:
        parts.append(f"{column} >= {int(low)}")
    if high is not None:
        parts.append(f"{column} < {int(high)}")
    return " AND ".join(parts)


def _whole_in_a_range(summary: Summary, column: str) -> bool:
    """Whether a range of ``column`` holds every facet of the rows it counts."""
    return column in summary.key_columns


def _whole_in_every_pass(summary: Summary) -> bool:
    return all(_whole_in_a_range(summary, p) for p in summary.passes)


def accumulated(summary: Summary, *, place: bool) -> bool:
    """Whether the recount collects the summary over every range in a
    temporary table (``pg_temp.recount_<table>``), to compare or place it at
    the end: all but the ranged ones, and, to place, those whose rows a range
    holds whole."""
    if summary.ranged:
        return False
    return not (place and _whole_in_every_pass(summary))


def accumulators_sql(*, place: bool) -> str:
    """The recount's tables for what it collects over the ranges: like the
    table, and with its unique key where ranges add up parts of one row."""
    return "".join(
        f"CREATE TEMP TABLE recount_{s.table} (LIKE {s.table}); "
        + (
            ""
            if _whole_in_every_pass(s)
            else f"CREATE UNIQUE INDEX ON pg_temp.recount_{s.table} ({', '.join(s.conflict)}) "
            "NULLS NOT DISTINCT; "
        )
        for s in SUMMARIES
        if accumulated(s, place=place)
    )


def spill_table(column: str, n: int | None = None) -> str:
    """The spill of :func:`spill_sql`: its range ``n``, or the whole."""
    return f"pg_temp.recount_spill_{column}" + ("" if n is None else f"_{n}")


def spill_sql(column: str, ranges: list[tuple[int | None, int | None]]) -> list[str]:
    """Statements that write the facets of the links in ``ranges`` (of
    ``column``, consecutive) in one pass over ``links``, into one temporary
    table per range (:func:`spill_table`): what :func:`range_sql` reads
    instead of the links when a range's links lie all over the table (a
    domain's do)."""
    head = spill_table(column)
    statements = [
        f"CREATE TEMP TABLE recount_spill_shape AS {_FACETS_OF_LINKS} WITH NO DATA",
        f"CREATE TEMP TABLE {head} (LIKE pg_temp.recount_spill_shape) "
        f"PARTITION BY RANGE ({column})",
        "DROP TABLE pg_temp.recount_spill_shape",
    ]
    for n, (low, high) in enumerate(ranges):
        lower = "MINVALUE" if low is None else str(int(low))
        upper = "MAXVALUE" if high is None else str(int(high))
        statements.append(
            f"CREATE TEMP TABLE {spill_table(column, n).removeprefix('pg_temp.')} "
            f"PARTITION OF {head} FOR VALUES FROM ({lower}) TO ({upper})"
        )
    between = _between(f"l.{column}", ranges[0][0], ranges[-1][1])
    where = f" WHERE {between}" if between else ""
    statements.append(f"INSERT INTO {head} {_FACETS_OF_LINKS}{where}")
    return statements


def range_sql(
    column: str, low: int | None, high: int | None, *, place: bool, spilled: str | None = None
) -> str:
    """One statement for the links whose ``column`` is in [low, high): their
    facets once (or the range's table of :func:`spill_sql`, ``spilled``),
    each summary of the pass recounted from them, the ranged ones compared
    with the table's rows in the range (or, to ``place``, inserted), the
    others added to their accumulators. It returns a row per ranged summary:
    the table, its recounted rows, the rows that differ.

    Everything else it holds is the statement's own (a CTE spills to files
    freed when it ends)."""
    between = _between(f"l.{column}", low, high)
    if spilled is not None:
        ctes = [f"f AS MATERIALIZED (SELECT * FROM {spilled})"]
    else:
        ctes = [
            f"f AS MATERIALIZED ({_FACETS_OF_LINKS}" + (f" WHERE {between})" if between else ")")
        ]
    if any(column in s.passes for s in _LARGE_ONLY):
        # a range holds whole domains: all of a domain's links are here
        ctes.append(
            "large AS MATERIALIZED (SELECT domain_id FROM f GROUP BY 1 "
            "HAVING count(*) >= large_domain())"
        )
    rows = []
    for s in SUMMARIES:
        if column not in s.passes:
            continue
        if s.ranged == column:
            facets = "(SELECT * FROM f WHERE domain_id IN (SELECT domain_id FROM large)) fl"
            ctes.append(
                f"r_{s.table} AS MATERIALIZED "
                f"({s.recount_sql(facets if s.large_domains_only else 'f')})"
            )
            if place:
                ctes.append(
                    f"w_{s.table} AS (INSERT INTO {s.table} SELECT * FROM r_{s.table} "
                    f"ORDER BY {s.order})"
                )
                differ = "0"
            else:
                differ = f"({s.difference_sql(f'r_{s.table}', _between(column, low, high))})"
            rows.append(
                f"SELECT '{s.table}'::text, (SELECT count(*) FROM r_{s.table}), {differ}::bigint"
            )
        elif _whole_in_a_range(s, column):
            # whole rows: placed as they come, or kept to compare at the end
            into = s.table if place else f"pg_temp.recount_{s.table}"
            ctes.append(
                f"a_{s.table} AS (INSERT INTO {into} {s.recount_sql('f')} ORDER BY {s.order})"
            )
        else:
            partial = "(" + s.recount_sql("f", column) + ") d"
            ctes.append(
                f"a_{s.table} AS ({s.upsert_sql(partial, into='pg_temp.recount_' + s.table)})"
            )
    select = " UNION ALL ".join(rows) or "SELECT NULL::text, 0::bigint, 0::bigint WHERE false"
    return "WITH " + ", ".join(ctes) + " " + select


@functools.cache
def layer_sql() -> str:
    """What migrate installs from the declarations: large_domain(), the fold
    and the regate (the recount is run from harvest.db.summaries, range by
    range)."""
    return (
        "CREATE OR REPLACE FUNCTION large_domain() RETURNS integer "
        f"LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN {LARGE_DOMAIN};\n"
        + apply_sql()
        + regate_sql()
    )


def layer_checksum() -> str:
    return hashlib.sha256(layer_sql().encode()).hexdigest()


_READS = {
    None: "every link",
    "live": "live links",
    "dofollow": "live dofollow links",
    "published": "live links in publications",
}
_ROWS = {
    "facets": "",
    "tags": ", one row per tag",
    "groups": ", one row per tag and one for all (`''`)",
    "tag_or_publication": ", one row per tag and one per publication",
    "newest": ", each domain's and post's newest month of live links",
}


def markdown_table() -> str:
    """deploy/README's table of the summaries."""
    lines = ["| table | key | counts | of | for |", "| --- | --- | --- | --- | --- |"]
    for s in SUMMARIES:
        counts = ", ".join(
            f"{c.column} (distinct {c.distinct})"
            if c.distinct
            else f"{c.column} (newest)"
            if c.newest
            else c.column
            for c in s.counts
        )
        of = _ROWS[s.source][2:] if s.source == "newest" else _READS[s.where] + _ROWS[s.source]
        of += "; rows at zero deleted" if s.pruned else ""
        if s.large_domains_only:
            of += f"; rows only for domains of {LARGE_DOMAIN:,} links or more"
        lines.append(f"| `{s.table}` | {', '.join(s.key_columns)} | {counts} | {of} | {s.why} |")
    return "\n".join(lines) + "\n"
