"""The explorer's pages: each one a few queries of harvest.db, rendered by Jinja2
(autoescaped: titles and anchors are what anyone published) or, with
``?format=csv|jsonl``, the rows of the table it shows.

Starlette runs these plain functions on its thread pool; each takes one pooled
read-only connection for as long as it queries.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from harvest.analysis import output
from harvest.analysis.report import REASON_TEXT
from harvest.db import explore, queries
from harvest.db.readers import ReaderPool
from harvest.db.report_numbers import Filters, report_numbers
from harvest.explorer.guard import Guard
from harvest.explorer.sections import WARM_FROM, NotYet, SectionCache

# Seconds before a page whose answer is being worked out asks again.
WORKING_REFRESH = 1
# Rows a table shows at once unless ?n= says (at most MAX_ROWS).
PAGE = 25
MAX_ROWS = 500
FORMATS = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


class BadRequest(HTTPException):
    def __init__(self, detail: str) -> None:
        super().__init__(400, detail)


@dataclass
class Table:
    """One table of a page: its rows, and the links that page and sort it."""

    name: str
    title: str
    columns: Sequence[str]
    rows: list[tuple[Any, ...]]
    # the columns a page shows, when fewer than its export carries
    shown: Sequence[str] | None = None
    # column -> the kind of page its values open (domain, post, author, ...)
    links: dict[str, str] = field(default_factory=dict)
    sorts: Sequence[str] = ()
    sort: str | None = None
    previous: str | None = None
    next: str | None = None
    note: str | None = None

    def visible(self) -> list[tuple[str, int]]:
        """(column, its index in a row) for each column the page shows."""
        names = self.shown or self.columns
        return [(c, list(self.columns).index(c)) for c in names]


# What a page of backlinks shows: the link, where it stands, what it is worth;
# its CSV and JSON Lines carry every column of the same rows.
BACKLINK_PAGE_COLUMNS = (
    "target_url",
    "post_id",
    "author",
    "publication",
    "anchor_text",
    "rel",
    "placement",
    "reason",
    "first_seen",
)


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("harvest.explorer", "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["cell"] = _cell
    env.filters["number"] = lambda n: f"{n:,}" if isinstance(n, int) else ("" if n is None else n)
    env.filters["share"] = lambda v: "no data" if v is None else f"{float(v):.1%}"
    return env


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, datetime):
        # to the minute, in UTC: the exports carry the whole timestamp
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    return str(output.plain(value))


# -- query strings ----------------------------------------------------------------------


def _date(request: Request, name: str) -> date | None:
    text = request.query_params.get(name, "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{name}: dates are YYYY-MM-DD, not {text!r}") from None


def _choice(request: Request, name: str, allowed: Sequence[str]) -> str | None:
    text = request.query_params.get(name, "").strip()
    if not text:
        return None
    if text not in allowed:
        raise BadRequest(f"{name}: one of {', '.join(allowed)}, not {text!r}")
    return text


def rows_per_page(request: Request) -> int:
    text = request.query_params.get("n", "").strip()
    if not text:
        return PAGE
    if not text.isdigit() or not 1 <= int(text) <= MAX_ROWS:
        raise BadRequest(f"n: rows per page, a whole number from 1 to {MAX_ROWS}, not {text!r}")
    return int(text)


def _page_number(request: Request) -> int:
    text = request.query_params.get("page", "1")
    if not text.isdigit() or not 1 <= int(text) <= 10_000:
        raise BadRequest(f"page: a whole number from 1, not {text!r}")
    return int(text)


def _domains(request: Request, name: str) -> list[str]:
    """Domains typed into one box, separated by commas or spaces."""
    text = request.query_params.get(name, "")
    words = [w for w in text.replace(",", " ").split() if w]
    if len(words) > 20:
        raise BadRequest(f"{name}: at most 20 domains")
    return [queries.target_filter(w)[1] for w in words]


def link_filters(request: Request) -> queries.LinkFilters:
    author = request.query_params.get("author", "").strip().removeprefix("@") or None
    return queries.LinkFilters(
        author=author,
        placement=_choice(request, "placement", queries.PLACEMENTS),
        rel=_choice(request, "rel", tuple(queries.REL_CLASSES)),
        reason=_choice(request, "reason", tuple(REASON_TEXT)),
        since=_date(request, "since"),
        until=_date(request, "until"),
        published_since=_date(request, "published_since"),
        published_until=_date(request, "published_until"),
        include_lost=request.query_params.get("lost") == "1",
    )


def _with(request: Request, **changes: Any) -> str:
    """This page's address with some parameters changed (None drops one)."""
    params = dict(request.query_params)
    for name, value in changes.items():
        if value is None:
            params.pop(name, None)
        else:
            params[name] = str(value)
    query = urlencode(params)
    return request.url.path + (f"?{query}" if query else "")


def _offset_paging(request: Request, table: Table, page: int) -> None:
    if page > 1:
        table.previous = _with(request, page=page - 1 if page > 2 else None)
    n = rows_per_page(request)
    if len(table.rows) > n:
        table.rows = table.rows[:n]
        table.next = _with(request, page=page + 1)


# -- the explorer -----------------------------------------------------------------------


# The tabs of a domain's page, in the order they are shown.
DOMAIN_VIEWS = ("backlinks", "anchors", "targets", "authors", "publications", "months")

# A tab of a domain's page: the request, a connection, the domain, the filters,
# and whether its answer is worked out in the background (a large domain).
View = Callable[[Request, Any, explore.Target, queries.LinkFilters, bool], Table]


class Explorer:
    def __init__(self, pool: ReaderPool, sections: SectionCache, large: int) -> None:
        self.pool = pool
        self.sections = sections
        # a domain with this many live links is grouped and filtered in the background
        self.large = large
        self.env = _env()
        self.views: dict[str, View] = {
            "backlinks": self._backlinks,
            "anchors": self._grouped("anchors", "Anchor texts", {}),
            "targets": self._grouped("targets", "Target pages", {"target_url": "url"}),
            "authors": self._grouped("authors", "Referring authors", {"author": "author"}),
            "publications": self._grouped(
                "publications", "Referring publications", {"publication": "publication"}
            ),
            "months": self._months,
        }

    def render(
        self, request: Request, template: str, tables: list[Table], **context: Any
    ) -> Response:
        wanted = request.query_params.get("format")
        if wanted:
            return self._export(request, wanted, tables)
        html = self.env.get_template(template).render(
            request=request, tables=tables, url_with=lambda **c: _with(request, **c),
            reasons=REASON_TEXT, placements=queries.PLACEMENTS,
            rels=tuple(queries.REL_CLASSES), **context,
        )  # fmt: skip
        return Response(html, media_type="text/html; charset=utf-8")

    def _export(self, request: Request, wanted: str, tables: list[Table]) -> Response:
        if wanted not in FORMATS:
            raise BadRequest(f"format: csv or jsonl, not {wanted!r}")
        name = request.query_params.get("table") or (tables[0].name if tables else "")
        table = next((t for t in tables if t.name == name), None)
        if table is None:
            raise BadRequest(f"table: one of {', '.join(t.name for t in tables)}, not {name!r}")
        buffer = io.StringIO(newline="")
        output.write(buffer, "csv" if wanted == "csv" else "json", table.columns, table.rows)
        filename = f"harvest-{table.name}.{wanted}"
        return Response(
            buffer.getvalue(),
            media_type=FORMATS[wanted],
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    # -- pages --------------------------------------------------------------------------

    def home(self, request: Request) -> Response:
        page, n = _page_number(request), rows_per_page(request)
        sorts = tuple(queries.TOP_DOMAIN_ORDER)
        sort = _choice(request, "sort", sorts) or "links"
        with self.pool.connection() as conn:
            numbers = report_numbers(conn, Filters(), top=1)
            columns, rows = queries.top_domains(conn, limit=page * n + 1, sort=sort)
        table = Table(
            "domains", "Most linked domains", columns, rows[(page - 1) * n :],
            links={"domain": "domain"}, sorts=sorts, sort=sort,
        )  # fmt: skip
        _offset_paging(request, table, page)
        return self.render(request, "home.html", [table], numbers=numbers)

    def search(self, request: Request) -> Response:
        text = request.query_params.get("q", "").strip()
        if not text:
            return RedirectResponse("/", status_code=303)
        with self.pool.connection() as conn:
            target = explore.find_target(conn, text) if "." in text else None
            if target is not None:
                return RedirectResponse(f"/domain/{target.name}", status_code=303)
            columns, rows = explore.search(conn, text)
        # each name links to the page of its kind (the row's first column)
        table = Table(
            "matches", f"Names starting with {text!r}", columns, rows, links={"name": "kind"}
        )
        if not rows:
            table.note = "Nothing harvested has a name starting with that."
        return self.render(request, "search.html", [table], text=text)

    def domain(self, request: Request) -> Response:
        name = request.path_params["name"]
        view = _choice(request, "view", DOMAIN_VIEWS) or "backlinks"
        filters = link_filters(request)
        with self.pool.connection() as conn:
            target = explore.find_target(conn, name)
            if target is None:
                return self._missing(request, conn, "domain or host", name)
            totals = queries.target_totals(conn, target.domain_id, target.host_id)
            # (a download waits for its rows: a page says it is working instead)
            later = totals["links"] >= self.large and not request.query_params.get("format")
            try:
                table = self.views[view](request, conn, target, filters, later)
            except NotYet:
                return self._working(request, f"{totals['links']:,} links to {target.name}")
        return self.render(
            request, "domain.html", [table], target=target, totals=totals, view=view,
            views=DOMAIN_VIEWS, filters=filters,
        )  # fmt: skip

    def _backlinks(
        self,
        request: Request,
        conn: Any,
        target: explore.Target,
        filters: queries.LinkFilters,
        later: bool,
    ) -> Table:
        after = request.query_params.get("after") or None
        before = request.query_params.get("before") or None
        n = rows_per_page(request)
        try:
            if later and filters != queries.LinkFilters():
                # a rare filter walks most of a large domain's links: in the background
                page = self.sections.backlinks(conn, target, filters, n, after, before)
            else:
                page = queries.backlinks(
                    conn, target.name, filters=filters, limit=n, after=after, before=before
                )
        except queries.BadCursor as exc:
            raise BadRequest(str(exc)) from None
        table = Table(
            "backlinks", "Backlinks", page.columns, list(page.rows),
            shown=BACKLINK_PAGE_COLUMNS,
            links={
                "target_url": "url", "post_id": "post", "author": "author",
                "publication": "publication",
            },
        )  # fmt: skip
        if page.before:
            table.previous = _with(request, before=page.before, after=None)
        if page.after:
            table.next = _with(request, after=page.after, before=None)
        if not table.rows:
            table.note = "No backlinks match these filters."
        return table

    def _grouped(self, grouping: str, title: str, links: dict[str, str]) -> View:
        def view(
            request: Request,
            conn: Any,
            target: explore.Target,
            filters: queries.LinkFilters,
            later: bool,
        ) -> Table:
            page, n = _page_number(request), rows_per_page(request)
            sort = _choice(request, "sort", explore.GROUP_SORTS) or "links"
            tops = self.sections.tops(conn, target, grouping, filters, later)
            columns, rows = tops.columns, tops.page(sort, (page - 1) * n, n + 1)
            if rows is None:  # past the groups kept: asked of the database
                columns, rows = explore.grouped(
                    conn, target, grouping, filters, sort=sort, limit=n + 1,
                    offset=(page - 1) * n,
                )  # fmt: skip
            table = Table(
                grouping, title, columns, rows, links=links, sorts=explore.GROUP_SORTS, sort=sort
            )
            _offset_paging(request, table, page)
            return table

        return view

    def _months(
        self,
        request: Request,
        conn: Any,
        target: explore.Target,
        filters: queries.LinkFilters,
        later: bool,
    ) -> Table:
        columns, rows = self.sections.months(conn, target, filters, later)
        return Table("months", "New and lost links by month", columns, rows)

    def intersect(self, request: Request) -> Response:
        """Who links to the competitors' domains and not to yours."""
        theirs = _domains(request, "with")
        mine = _domains(request, "not")
        by = _choice(request, "by", tuple(explore.INTERSECT_BY)) or "authors"
        sort = _choice(request, "sort", explore.INTERSECT_SORTS) or "domains"
        page, n = _page_number(request), rows_per_page(request)
        tables = []
        unknown: list[str] = []
        if theirs:
            with self.pool.connection() as conn:
                unknown = [d for d in (*theirs, *mine) if not explore.known(conn, "domain", d)]
                try:
                    columns, rows = self.sections.intersect(
                        conn, theirs, mine, by, sort, n + 1, (page - 1) * n,
                        later=not request.query_params.get("format"),
                    )  # fmt: skip
                except NotYet:
                    return self._working(request, f"the links to {', '.join(theirs)}")
            label = "author" if by == "authors" else "publication"
            table = Table(
                "intersect", f"{by.capitalize()} linking to {', '.join(theirs)}"
                + (f" and not to {', '.join(mine)}" if mine else ""),
                columns, rows, links={label: label}, sorts=explore.INTERSECT_SORTS, sort=sort,
            )  # fmt: skip
            if unknown:
                table.note = f"Not in this harvest: {', '.join(unknown)}."
            elif not rows:
                table.note = "Nobody links to those and not to yours."
            _offset_paging(request, table, page)
            tables.append(table)
        return self.render(
            request, "intersect.html", tables, theirs=", ".join(theirs), mine=", ".join(mine),
            by=by,
        )  # fmt: skip

    def _working(self, request: Request, what: str) -> Response:
        """The answer is being worked out: say so, and ask again in a moment
        (a refresh, no script)."""
        html = self.env.get_template("working.html").render(
            request=request, what=what, again=WORKING_REFRESH
        )
        return Response(html, media_type="text/html; charset=utf-8")

    def post(self, request: Request) -> Response:
        medium_id = request.path_params["medium_id"]
        with self.pool.connection() as conn:
            found, (columns, rows) = explore.post(conn, medium_id)
            if found is None:
                return self._missing(request, conn, "post", medium_id)
        table = Table("links", "Links in this post", columns, rows, links={"target_url": "url"})
        return self.render(request, "post.html", [table], post=found)

    def author(self, request: Request) -> Response:
        name = request.path_params["name"]
        page, n = _page_number(request), rows_per_page(request)
        sort = _choice(request, "sort", explore.GROUP_SORTS) or "links"
        with self.pool.connection() as conn:
            found = explore.author(conn, name)
            if found is None:
                return self._missing(request, conn, "author", name)
            domains = Table(
                "domains", "Domains this author links to",
                *explore.author_domains(
                    conn, found["author_id"], sort=sort, limit=n + 1, offset=(page - 1) * n
                ),
                links={"domain": "domain"}, sorts=explore.GROUP_SORTS, sort=sort,
            )  # fmt: skip
            posts = Table(
                "posts", "Posts", *explore.posts_of(conn, author_id=found["author_id"], limit=200),
                links={"post_id": "post", "publication": "publication"},
            )  # fmt: skip
        _offset_paging(request, domains, page)
        return self.render(request, "group.html", [domains, posts], kind="author", found=found)

    def publication(self, request: Request) -> Response:
        ref = request.path_params["ref"]
        with self.pool.connection() as conn:
            found = explore.publication(conn, ref)
            if found is None:
                return self._missing(request, conn, "publication", ref)
            slug = found["publication"] or found["publication_domain"]
            return self._group_page(
                request, conn, "publication", found, Filters(publication=slug),
                explore.posts_of(conn, publication_id=found["publication_id"], limit=200),
            )  # fmt: skip

    def tag(self, request: Request) -> Response:
        from harvest.slugs import tag_slug

        typed = request.path_params["tag"]
        tag = tag_slug(typed)
        if tag != typed and tag:
            return RedirectResponse(f"/tag/{tag}", status_code=301)
        with self.pool.connection() as conn:
            if not tag or not explore.tag_exists(conn, tag):
                return self._missing(request, conn, "tag", typed)
            return self._group_page(
                request, conn, "tag", {"tag": tag}, Filters(tag=tag),
                explore.posts_of(conn, tag=tag, limit=200),
            )  # fmt: skip

    def _group_page(
        self, request: Request, conn: Any, kind: str, found: dict[str, Any], filters: Filters,
        posts: queries.Rows,
    ) -> Response:  # fmt: skip
        """A tag's or a publication's page: the report's numbers for it (from the
        summaries), its most linked domains and its newest posts."""
        page, n = _page_number(request), rows_per_page(request)
        numbers = report_numbers(conn, filters, top=page * n + 1)
        top = numbers["top_domains"]
        columns = ["domain", "links", "dofollow_links", "posts", "nofollow_share"]
        domains = Table(
            "domains", f"Domains this {kind} links to", columns,
            [tuple(r.get(c) for c in columns) for r in top[(page - 1) * n :]],
            links={"domain": "domain"},
        )  # fmt: skip
        _offset_paging(request, domains, page)
        table = Table(
            "posts", "Newest posts", *posts, links={"post_id": "post", "author": "author"}
        )
        return self.render(
            request, "group.html", [domains, table], kind=kind, found=found, numbers=numbers
        )

    def _missing(self, request: Request, conn: Any, kind: str, name: str) -> Response:
        if request.query_params.get("format"):
            raise HTTPException(404, f"no {kind} {name!r} in this harvest")
        columns, rows = explore.search(conn, name.split(".", maxsplit=1)[0][:40])
        table = Table("matches", "Names like it", columns, rows, links={"name": "kind"})
        html = self.env.get_template("missing.html").render(
            request=request, kind=kind, name=name, tables=[table], url_with=lambda **c: "",
        )  # fmt: skip
        return Response(html, status_code=404, media_type="text/html; charset=utf-8")


def create_app(
    pool: ReaderPool,
    guard: Guard,
    sections: SectionCache | None = None,
    large: int = WARM_FROM,
) -> Starlette:
    explorer = Explorer(pool, sections or SectionCache(pool=pool), large)
    routes = [
        Route("/", explorer.home),
        Route("/search", explorer.search),
        Route("/intersect", explorer.intersect),
        Route("/domain/{name}", explorer.domain),
        Route("/post/{medium_id}", explorer.post),
        Route("/author/{name}", explorer.author),
        Route("/publication/{ref}", explorer.publication),
        Route("/tag/{tag}", explorer.tag),
        # browsers ask for one; there is none, and a 404 would be an error in their console
        Route("/favicon.ico", lambda _request: Response(status_code=204)),
        Mount("/static", StaticFiles(packages=[("harvest.explorer", "static")]), name="static"),
    ]
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(TrustedHostMiddleware, allowed_hosts=list(guard.hosts)),
            Middleware(Guard.middleware, guard=guard),
        ],
        exception_handlers={HTTPException: _http_error},
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return PlainTextResponse(f"{exc.status_code}: {exc.detail}\n", status_code=exc.status_code)
