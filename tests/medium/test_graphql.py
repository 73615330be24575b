"""harvest.medium.graphql: the walks' requests, and a strict reading of the answers.

The answers of the right shape come from the simulator's endpoint (which
follows the shapes public Medium clients show, see shared/medium-graphql.md);
every way an answer can be wrong is a table row that must read as drift or
error, naming the field, never as an empty page. A real 2019 /_/graphql answer
of another operation must read as drift too.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harvest.medium import graphql as g
from harvest.sim import graphql as sim_graphql
from harvest.sim.model import build_world

PAGES = Path(__file__).parent / "pages"
WORLD = build_world(seed=1, size=300)


def answer(walk: g.Walk, after: str | None = None, first: int = 10) -> Any:
    host = walk.endpoint.split("/")[2]
    status, value = sim_graphql.answer(
        WORLD, host, walk.body(after, first), sim_graphql.GraphqlMode()
    )
    assert status == 200
    return value


# -- walks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kind", "key", "month", "endpoint"),
    [
        ("https://medium.com/tag/seo/archive", "tag", "seo", None, "https://medium.com/_/graphql"),
        (
            "https://medium.com/tag/web-dev/archive/2019/03",
            "tag",
            "web-dev",
            (2019, 3),
            "https://medium.com/_/graphql",
        ),
        ("https://medium.com/@some.one", "user", "some.one", None, "https://medium.com/_/graphql"),
        (
            "https://medium.com/the-lab",
            "publication",
            "the-lab",
            None,
            "https://medium.com/_/graphql",
        ),
        (
            "https://fieldnotes.example/",
            "publication",
            "fieldnotes.example",
            None,
            "https://fieldnotes.example/_/graphql",
        ),
    ],
)
def test_a_walk_is_named_by_its_page(
    url: str, kind: str, key: str, month: tuple[int, int] | None, endpoint: str
) -> None:
    walk = g.walk_of(url)
    assert walk is not None
    assert (walk.kind, walk.key, walk.month, walk.endpoint, walk.url) == (
        kind,
        key,
        month,
        endpoint,
        url,
    )
    assert walk.headers()["Referer"] == url


@pytest.mark.parametrize(
    "url",
    [
        "https://medium.com/tag/seo",  # the tag page itself, not its archive
        "https://medium.com/tag/seo/archive/2019/13",
        "https://medium.com/p/0123456789ab",
        "https://medium.com/the-lab/a-post-0123456789ab",
        "https://fieldnotes.example/a-post-0123456789ab",
        "https://evil.medium.com/",
    ],
)
def test_other_pages_name_no_walk(url: str) -> None:
    assert g.walk_of(url) is None


def test_the_request_is_a_batch_of_one_operation_with_its_variables() -> None:
    body = json.loads(g.tag_walk("seo", (2020, 2)).body("abc", 500))
    assert len(body) == 1
    op = body[0]
    assert op["operationName"] == "TagArchiveFeedQuery"
    assert op["variables"] == {
        "tagSlug": "seo",
        "timeRange": {"kind": "IN_MONTH", "inMonth": {"year": 2020, "month": 2}},
        "sortOrder": "NEWEST",
        "first": 20,  # capped: a tag's page holds 20
        "after": "abc",
    }
    assert "tagFromSlug(tagSlug: $tagSlug)" in op["query"]
    # the first page of a tag or a publication is asked with "", as clients do
    assert json.loads(g.tag_walk("seo").body(None, 5))[0]["variables"]["after"] == ""
    user = json.loads(g.user_walk("a").body(None, 500))[0]
    assert user["variables"] == {
        "username": "a",
        "homepagePostsLimit": 25,
        "homepagePostsFrom": None,
        "includeDistributedResponses": True,
    }
    pub = json.loads(g.publication_walk("fieldnotes.example").body(None, 5))[0]
    assert pub["variables"] == {
        "ref": {"slug": None, "domain": "fieldnotes.example"},
        "first": 5,
        "after": "",
        "orderBy": {"publishedAt": "DESC"},
        "filter": {"published": True},
    }
    assert json.loads(g.publication_walk("the-lab").body("c", 50))[0]["variables"]["ref"] == {
        "slug": "the-lab",
        "domain": None,
    }


WALKS = {
    g.TAG_OPERATION: [g.tag_walk("seo"), g.tag_walk("seo", (2020, 2))],
    g.USER_OPERATION: [g.user_walk("a")],
    g.PUBLICATION_OPERATION: [g.publication_walk("the-lab"), g.publication_walk("f.example")],
}


@pytest.mark.parametrize("checked", g.CHECKED_AGAINST, ids=lambda c: f"{c.operation}:{c.sends}")
def test_each_part_checked_against_a_client_is_what_harvest_sends(checked: g.Checked) -> None:
    # a first page of the largest size each walk asks
    sent = []
    for walk in WALKS[checked.operation]:
        op = json.loads(walk.body(None, g.MAX_PAGE_SIZE))[0]
        sent.append(op["query"] + "\n" + json.dumps(op["variables"], separators=(",", ":")))
    assert any(checked.sends in text for text in sent), checked
    assert "/" in checked.client  # a repository named


@pytest.mark.parametrize("walk", [w for ws in WALKS.values() for w in ws], ids=lambda w: w.url)
def test_the_simulator_validates_what_harvest_sends(walk: g.Walk) -> None:
    for after in (None, "Y3Vyc29y"):
        op = json.loads(walk.body(after, g.MAX_PAGE_SIZE))[0]
        assert sim_graphql.validate(op["operationName"], op["query"], op["variables"]) == []


@pytest.mark.parametrize(
    ("operation", "header", "variables", "message"),
    [
        # what harvest sent before: a nullable cursor where the schema wants one
        (
            g.PUBLICATION_OPERATION,
            "query PublicationContentDataQuery($ref: PublicationRef!, $first: Int!, "
            "$after: String, $orderBy: PublicationPostsOrderBy, "
            "$filter: PublicationPostsFilter)",
            {"ref": {"slug": "x"}, "first": 5, "after": None},
            'Variable "$after" of type "String" used in position expecting type "String!".',
        ),
        (
            g.PUBLICATION_OPERATION,
            None,
            {"ref": {"slug": "x"}, "first": 5, "after": None},
            'Variable "$after" of required type "String!" was not provided.',
        ),
        (
            g.USER_OPERATION,
            "query UserProfileQuery($id: ID, $username: String, "
            "$homepagePostsLimit: PaginationLimit, $homepagePostsFrom: String = null, "
            "$includeDistributedResponses: Boolean = true)",
            {"username": "a"},
            'Variable "$username" of type "String" used in position expecting type "ID".',
        ),
        (
            g.TAG_OPERATION,
            "query TagArchiveFeedQuery($tagSlug: String!, $timeRange: TagPostsTimeRange, "
            "$sortOrder: TagPostsSortOrder!, $first: Int!, $after: String)",
            {"tagSlug": "seo", "timeRange": {"kind": "ALL_TIME"}, "sortOrder": "NEWEST"},
            'Variable "$timeRange" of type "TagPostsTimeRange" used in position expecting '
            'type "TagPostsTimeRange!".',
        ),
    ],
)
def test_the_simulator_refuses_a_variable_of_another_type_as_the_endpoint_does(
    operation: str, header: str | None, variables: dict[str, Any], message: str
) -> None:
    walk = {w.operation: w for ws in WALKS.values() for w in ws}[operation]
    query = json.loads(walk.body(None, 5))[0]["query"]
    if header is not None:
        query = header + " {" + query.partition("{")[2]
    assert message in sim_graphql.validate(operation, query, {"first": 5, **variables})
    body = json.dumps([{"operationName": operation, "variables": variables, "query": query}])
    status, value = sim_graphql.answer(
        WORLD, "medium.com", body.encode(), sim_graphql.GraphqlMode()
    )
    page = g.read_page(walk, json.dumps(value))
    assert (status, page.status) == (200, g.ERROR)
    assert message in page.reason


def test_the_simulator_caps_pages_as_the_endpoint_does() -> None:
    # pgoslatara asks a tag for 100 and gets 20; the reader takes what comes
    tag = g.tag_walk("seo")
    op = json.loads(tag.body(None, 20))[0]
    op["variables"]["first"] = 100
    _, value = sim_graphql.answer(
        WORLD, "medium.com", json.dumps([op]).encode(), sim_graphql.GraphqlMode()
    )
    assert len(g.read_page(tag, json.dumps(value)).posts) == 20
    prolific = build_world(seed=2, size=120)
    for post in prolific.posts:
        post.author = prolific.authors[0]
    user = g.user_walk(prolific.authors[0].username)
    op = json.loads(user.body(None, 25))[0]
    op["variables"]["homepagePostsLimit"] = 100
    _, value = sim_graphql.answer(
        prolific, "medium.com", json.dumps([op]).encode(), sim_graphql.GraphqlMode()
    )
    assert len(g.read_page(user, json.dumps(value)).posts) == 25


def test_months_go_newest_first_across_years() -> None:
    assert list(g.months((2019, 11), (2020, 2))) == [(2020, 2), (2020, 1), (2019, 12), (2019, 11)]


# -- answers of the right shape -------------------------------------------------------------


@pytest.mark.parametrize(
    "walk",
    [
        g.tag_walk("seo"),
        g.user_walk(WORLD.authors[0].username),
        g.publication_walk("field-notes"),
        g.publication_walk("fieldnotes.example"),
    ],
    ids=lambda w: w.url,
)
def test_a_whole_walk_lists_every_post_once_with_its_facts(walk: g.Walk) -> None:
    expected = {
        "tag": lambda: WORLD.tagged(walk.key),
        "user": lambda: WORLD.profile_listing(walk.key),
        "publication": lambda: WORLD.publication_listing("field-notes"),
    }[walk.kind]()
    found, after, pages = [], None, 0
    pinned: set[str] = set()
    listed: dict[str, str] = {}
    while True:
        page = g.read_page(walk, json.dumps(answer(walk, after, first=7)))
        assert page.status == g.OK, page.reason
        found.extend(page.posts)
        pinned |= page.pinned
        listed |= page.listed
        pages += 1
        if not page.more:
            assert page.after is None
            break
        after = page.after
    assert [r.post_id for r in found] == [p.post_id for p in expected]
    assert pages == max(1, -(-len(expected) // 7))
    first, post = found[0], expected[0]
    assert first.url == post.url
    assert first.author == post.author.username
    assert first.published_at is not None
    assert first.published_at.startswith(post.published.strftime("%Y-%m-%dT%H:%M"))
    if post.publication is not None:
        assert first.publication == post.publication.slug
        assert first.site == (post.publication.domain or None)
    assert pinned == {p.post_id for p in expected if p.pinned}
    if walk.kind == "publication":
        # each post's listing time, in the order the walk goes
        assert [listed[r.post_id] for r in found] == sorted(listed.values(), reverse=True)
        assert {r.post_id for r in found if listed[r.post_id] != r.published_at} == {
            p.post_id for p in expected if p.listed is not None
        }
    else:
        assert listed == {}


def test_the_world_has_pinned_posts_and_posts_listed_late() -> None:
    # what the walks must not stop at: an old pinned post first in a user's
    # listing, and an old post high in a publication's
    users = [a.username for a in WORLD.authors]
    firsts = [WORLD.profile_listing(u)[0] for u in users if WORLD.profile_listing(u)]
    assert any(p.pinned and p is not WORLD.by_author(p.author.username)[0] for p in firsts)
    listing = WORLD.publication_listing("the-lab")
    late = [i for i, p in enumerate(listing) if p.listed is not None]
    assert late and any(
        listing[i].published < listing[i + 1].published for i in late if i + 1 < len(listing)
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("pinnedByCreatorAt", "yes", "pinnedByCreatorAt: expected milliseconds or 0"),
        ("pinnedAt", -5, "pinnedAt: expected milliseconds or 0"),
        ("listedAt", None, "edges[0].listedAt: expected milliseconds"),
        ("listedAt", True, "edges[0].listedAt: expected milliseconds"),
    ],
)
def test_pins_and_listing_times_of_another_shape_are_drift(
    field: str, value: Any, message: str
) -> None:
    walk = g.publication_walk("the-lab")
    answered = answer(walk)
    edge = answered[0]["data"]["publication"]["publicationPostsConnection"]["edges"][0]
    (edge if field == "listedAt" else edge["node"])[field] = value
    page = g.read_page(walk, json.dumps(answered))
    assert page.status == g.DRIFT
    assert message in page.reason


def test_a_month_walk_lists_that_month_only() -> None:
    post = WORLD.tagged("seo")[5]
    walk = g.tag_walk("seo", (post.published.year, post.published.month))
    page = g.read_page(walk, json.dumps(answer(walk, first=50)))
    expected = [
        p.post_id
        for p in WORLD.tagged("seo")
        if (p.published.year, p.published.month) == walk.month
    ]
    assert [r.post_id for r in page.posts] == expected
    assert post.post_id in expected


@pytest.mark.parametrize(
    ("walk", "value"),
    [
        (g.tag_walk("nosuchtag"), [{"data": {"tagFromSlug": None}}]),
        (g.publication_walk("nope"), [{"data": {"publication": None}}]),
        (g.user_walk("nobody"), [{"data": {"userResult": {"__typename": "UserNotFound"}}}]),
    ],
)
def test_nothing_there_is_an_empty_walk_not_drift(walk: g.Walk, value: Any) -> None:
    page = g.read_page(walk, json.dumps(value))
    assert (page.status, page.posts, page.more) == (g.OK, [], False)


def test_a_post_twice_in_one_answer_is_listed_once_and_counted() -> None:
    value = answer(g.tag_walk("seo"), first=3)
    edges = value[0]["data"]["tagFromSlug"]["posts"]["edges"]
    edges.append(copy.deepcopy(edges[0]))
    page = g.read_page(g.tag_walk("seo"), json.dumps(value))
    assert page.status == g.OK
    assert (len(page.posts), page.seen) == (3, 4)


# -- answers that are not --------------------------------------------------------------------


def _tag_answer() -> Any:
    return answer(g.tag_walk("seo"), first=3)


def _conn(value: Any) -> Any:
    return value[0]["data"]["tagFromSlug"]["posts"]


DRIFTS = [
    (
        "edges renamed",
        lambda v: _conn(v).update(items=_conn(v).pop("edges")),
        "data.tagFromSlug.posts.edges is missing",
    ),
    (
        "pageInfo gone",
        lambda v: _conn(v).pop("pageInfo"),
        "data.tagFromSlug.posts.pageInfo is missing",
    ),
    (
        "hasNextPage a string",
        lambda v: _conn(v)["pageInfo"].update(hasNextPage="yes"),
        "hasNextPage: expected true or false",
    ),
    (
        "more without cursor",
        lambda v: _conn(v)["pageInfo"].update(hasNextPage=True, endCursor=None),
        "a next page without an endCursor",
    ),
    ("node gone", lambda v: _conn(v)["edges"][1].pop("node"), "edges[1].node is missing"),
    (
        "mediumUrl renamed",
        lambda v: _conn(v)["edges"][0]["node"].update(
            url=_conn(v)["edges"][0]["node"].pop("mediumUrl")
        ),
        "edges[0].node.mediumUrl is missing",
    ),
    (
        "id not a post id",
        lambda v: _conn(v)["edges"][0]["node"].update(id="not-hex"),
        "edges[0].node.id: expected a post id",
    ),
    (
        "url of another post",
        lambda v: _conn(v)["edges"][0]["node"].update(
            mediumUrl="https://medium.com/@a/other-0123456789ab"
        ),
        "not the URL of post",
    ),
    (
        "date in seconds as text",
        lambda v: _conn(v)["edges"][2]["node"].update(firstPublishedAt="1577836800"),
        "firstPublishedAt: expected milliseconds",
    ),
    (
        "creator without username",
        lambda v: _conn(v)["edges"][0]["node"]["creator"].pop("username"),
        "creator.username is missing",
    ),
    (
        "tag renamed",
        lambda v: v[0]["data"].update(tag=v[0]["data"].pop("tagFromSlug")),
        "data.tagFromSlug is missing",
    ),
    ("no batch", lambda v: v.append({"data": {}}), "expected a batch of one answer"),
]


@pytest.mark.parametrize(("name", "change", "reason"), DRIFTS, ids=[d[0] for d in DRIFTS])
def test_an_answer_of_another_shape_is_drift_naming_the_field(
    name: str, change: Any, reason: str
) -> None:
    value = _tag_answer()
    change(value)
    page = g.read_page(g.tag_walk("seo"), json.dumps(value))
    assert page.status == g.DRIFT
    assert reason in page.reason
    assert page.posts == []


def test_graphql_errors_are_an_error_page_with_the_message() -> None:
    page = g.read_page(
        g.tag_walk("seo"), json.dumps([{"errors": [{"message": "Internal server error"}]}])
    )
    assert (page.status, page.reason) == (g.ERROR, "Internal server error")
    refused = g.read_page(g.tag_walk("seo"), json.dumps({"errors": [{"message": "PERSISTED"}]}))
    assert refused.status == g.ERROR


def test_the_simulators_drift_modes_all_read_as_drift() -> None:
    for kind in sim_graphql.DRIFT_KINDS:
        mode = sim_graphql.GraphqlMode(fault="drift", drift=kind)
        for walk in (
            g.tag_walk("seo"),
            g.user_walk(WORLD.authors[0].username),
            g.publication_walk("the-lab"),
        ):
            _, value = sim_graphql.answer(WORLD, "medium.com", walk.body(None, 5), mode)
            assert g.read_page(walk, json.dumps(value)).status == g.DRIFT, (kind, walk.url)


def test_a_real_2019_answer_of_another_operation_is_drift() -> None:
    text = (
        PAGES / "graphql_2019_TopicHandler-programming_converted-from-ts_hypeit.json"
    ).read_text()
    for walk in (g.tag_walk("programming"), g.user_walk("a"), g.publication_walk("the-lab")):
        page = g.read_page(walk, text)
        assert page.status == g.DRIFT
        assert "batch" in page.reason  # one object, not Medium's batch of answers
        # and as a batch, its data names none of the fields asked for
        batched = g.read_page(walk, json.dumps([json.loads(text)]))
        assert batched.status == g.DRIFT and "is missing" in batched.reason


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "data",
                        "errors",
                        "tagFromSlug",
                        "posts",
                        "edges",
                        "node",
                        "pageInfo",
                        "hasNextPage",
                        "endCursor",
                        "id",
                        "mediumUrl",
                        "firstPublishedAt",
                        "userResult",
                        "__typename",
                        "publicationByRef",
                        "x",
                    ]
                ),
                children,
                max_size=5,
            )
        ),
        max_leaves=30,
    ),
    st.sampled_from(["tag", "user", "publication"]),
)
def test_no_answer_makes_the_reader_raise(value: Any, kind: str) -> None:
    walk = {
        "tag": g.tag_walk("seo"),
        "user": g.user_walk("a"),
        "publication": g.publication_walk("p"),
    }[kind]
    page = g.read_page(walk, json.dumps(value))
    assert page.status in (g.OK, g.ERROR, g.DRIFT)
    if page.status != g.OK:
        assert page.reason


# -- answers of hostile size ------------------------------------------------------------------


def test_a_million_edges_is_drift_read_in_no_time() -> None:
    # what fits under DOWNLOAD_MAXSIZE (32 MB): small edges, a million of them
    value = _tag_answer()
    _conn(value)["edges"] = [{"node": {}}] * 1_000_000
    text = json.dumps(value)
    assert len(text) < 32 * 1024 * 1024
    started = time.monotonic()
    page = g.read_page(g.tag_walk("seo"), text)
    assert page.status == g.DRIFT and "1,000,000 entries" in (page.reason or "")
    assert not page.posts
    assert time.monotonic() - started < 10  # json.loads is the cost; nothing per edge


def test_a_user_page_of_a_million_posts_is_drift() -> None:
    value = answer(g.user_walk(WORLD.authors[0].username), first=3)
    conn = value[0]["data"]["userResult"]["homepagePostsConnection"]
    conn["posts"] = conn["posts"][:1] * (g.MAX_EDGES + 1)
    page = g.read_page(g.user_walk(WORLD.authors[0].username), json.dumps(value))
    assert page.status == g.DRIFT and "entries in one page" in (page.reason or "")


@pytest.mark.parametrize("kind", ["tag", "user"])
def test_a_huge_cursor_is_drift(kind: str) -> None:
    huge = "c" * (g.MAX_CURSOR + 1)
    if kind == "tag":
        walk = g.tag_walk("seo")
        value = answer(walk, first=3)
        _conn(value)["pageInfo"].update(hasNextPage=True, endCursor=huge)
    else:
        walk = g.user_walk(WORLD.authors[0].username)
        value = answer(walk, first=1)
        conn = value[0]["data"]["userResult"]["homepagePostsConnection"]
        conn["pagingInfo"] = {"next": {"from": huge}}
    page = g.read_page(walk, json.dumps(value))
    assert page.status == g.DRIFT and "cursor of" in (page.reason or ""), page.reason


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,  # deeper than json's recursion
        '[{"data":' * 50_000 + "1" + "}]" * 50_000,
        '[{"data": {"tagFromSlug": {"posts": {"edges": ' + "[" * 3_000 + "]" * 3_000 + "}}}}]",
        '[{"data": {"x": "' + "a" * 30_000_000 + '"}}]',  # tens of MB of nothing
    ],
    ids=["brackets", "objects", "edges", "30MB"],
)
def test_hostile_nesting_and_size_never_raise(text: str) -> None:
    page = g.read_page(g.tag_walk("seo"), text)
    assert page.status == g.DRIFT and not page.posts
