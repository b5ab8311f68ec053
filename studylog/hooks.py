"""Registries through which Markdown references are resolved.

A build owns one `Hooks`; `studylog.refs` registers `post:`, the integration registers `exp:`
and the `experiment-card` / `experiment-compare` fences. Handlers receive a `LinkRef` or a
`FenceRef` and may raise `RefError("message")`, which becomes `path:line: message`.

    def post_link(ref: LinkRef) -> str | Element | Markup: ...
    hooks.register_link("post", post_link)
    def card(ref: FenceRef) -> str: ...               # returns HTML
    hooks.register_fence("experiment-card", card)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .errors import RefError  # re-exported for handlers

__all__ = ["Hooks", "LinkRef", "FenceRef", "RenderContext", "RefError"]


@dataclass
class RenderContext:
    """What a handler may use: the site model, URL builder, and the asset copier."""
    site: Any                                   # studylog.collect.Site
    urls: Any                                   # studylog.urls.Urls
    assets: dict[str, Path] = field(default_factory=dict)   # output path -> source file

    def copy_asset(self, src: Path, out_path: str) -> str:
        """Copy `src` into the site once at `out_path` (relative); return its href."""
        self.assets[out_path] = Path(src)
        return self.urls.href(out_path)


@dataclass
class LinkRef:
    """`[text](scheme:target)` or `![alt](scheme:target)` found in a document."""
    scheme: str
    target: str
    is_image: bool
    text: str            # link text, or the image's alt
    document: Any        # studylog.content.Document
    line: int            # line in document.path
    ctx: RenderContext
    title: str | None = None


@dataclass
class FenceRef:
    """A fenced block whose language has a handler; `data` is its YAML body, parsed."""
    lang: str
    source: str
    data: Any
    lines: dict[tuple, int]   # YAML key path -> line in the file, e.g. ("experiments",)
    document: Any
    line: int                 # line of the opening fence
    ctx: RenderContext
    options: dict = field(default_factory=dict)


LinkHandler = Callable[[LinkRef], Any]
FenceHandler = Callable[[FenceRef], str]


class Hooks:
    def __init__(self) -> None:
        self.links: dict[str, LinkHandler] = {}
        self.fences: dict[str, FenceHandler] = {}

    def register_link(self, scheme: str, handler: LinkHandler) -> None:
        """Handle `[text](scheme:target)` / `![alt](scheme:target)`. Returns a URL (str),
        or an Element / markupsafe.Markup that replaces the link or image."""
        self.links[scheme] = handler

    def register_fence(self, lang: str, handler: FenceHandler) -> None:
        """Handle ```lang fenced blocks (YAML body); the handler returns HTML."""
        self.fences[lang] = handler
