"""`post:` references: [text](post:NAME) where NAME is a post's (or page's) slug or file name."""
from __future__ import annotations

import difflib

from .errors import RefError
from .hooks import Hooks, LinkRef


def known_names_hint(name: str, names, what: str) -> str:
    names = sorted(set(names))
    if not names:
        return f"no {what} exist"
    close = difflib.get_close_matches(name, names, n=5, cutoff=0.4)
    rest = [n for n in names if n not in close]
    shown = close + rest[: max(0, 10 - len(close))]
    more = f" (and {len(names) - len(shown)} more)" if len(names) > len(shown) else ""
    return f"known {what}: " + ", ".join(shown) + more


def post_link(ref: LinkRef) -> str:
    site = ref.ctx.site
    name, _, anchor = ref.target.partition("#")
    if ref.is_image:
        raise RefError(f"post:{name} is a page, not an image; use [text](post:{name})")
    doc = site.lookup(name)
    if doc is None:
        if name in site.draft_names:
            raise RefError(f"post:{name} is a draft (build with --drafts, or remove the link)")
        raise RefError(f"unknown post {name!r} in [..](post:{ref.target}); "
                       + known_names_hint(name, site.names(), "posts"))
    url = ref.ctx.urls.doc(doc)
    return url + ("#" + anchor if anchor else "")


def register(hooks: Hooks) -> None:
    hooks.register_link("post", post_link)
