"""The words harvest's answers use, each declared once with what it means: the
CLI's options and tables, the exports, the report, the explorer and the SQL
views' column comments all take them from here.

Below every room (the database, the analysis, the explorer and the CLI read it;
it imports nothing of harvest's).
"""

from __future__ import annotations

# Where on the page a link stands (link_placement, migration 0006).
PLACEMENTS = {
    "body": "in the post's text",
    "caption": "in a figure's caption",
    "link_card": "a link card (an embedded preview of the page)",
    "author_bio": "in the author's bio under the post",
}

# What a link's rel says, as a class a filter can name.
REL_CLASSES = {
    "dofollow": "none of nofollow, ugc or sponsored",
    "nofollow": "rel nofollow",
    "ugc": "rel ugc (user-generated content)",
    "sponsored": "rel sponsored",
}

# The verdict per link (link_verdict, migration 0005): "follow" passes value,
# anything else is the first reason it does not. README.md has the rules.
REASONS = {
    "follow": "passes value: a followed anchor on an indexable page Medium still serves",
    "nofollow": "the anchor says nofollow",
    "ugc": "the anchor says ugc (user-generated content)",
    "sponsored": "the anchor says sponsored",
    "page_noindex": "the page is noindex (robots meta or X-Robots-Tag)",
    "page_nofollow": "the page is nofollow (robots meta or X-Robots-Tag)",
    "canonical_elsewhere": "the canonical is off Medium (a cross-post): value goes to that page",
    "preview_only": "member-only: not in the preview a logged-out reader or crawler gets",
    "lost": "no longer on the post",
    "post_deleted": "the post was deleted",
    "post_suspended": "the post's account was suspended",
}
