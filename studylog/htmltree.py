"""A tiny read-only tree over rendered HTML, keeping each element's source offsets.

The accumulation pages quote pieces of a diary's rendered HTML (an entry's notes keep their
links, code and math exactly as the post shows them), so instead of re-serialising a parsed
tree we remember where every element starts and ends and slice the original string.
"""
from __future__ import annotations

import html as htmllib
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

try:   # html.parser's own tag patterns, for the quick path (kept for compatibility by newer Pythons)
    from html.parser import (attrfind_tolerant, commentclose, endtagfind, locatestarttagend_tolerant,
                             tagfind_tolerant)
except ImportError:                # gone: html.parser does all the parsing
    locatestarttagend_tolerant = None

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
BLOCK = {"p", "ul", "ol", "dl", "div", "blockquote", "pre", "table", "figure", "details", "hr",
         "h1", "h2", "h3", "h4", "h5", "h6"}
_COMMENT = re.compile(r"<!--.*?-->", re.S)
# Elements whose insides nobody here looks into, but which hold most of a post's tags (Pygments
# spans, server-side MathML): parse() blanks their content before html.parser sees it, so they
# become leaves. Comments and raw-text elements are matched first so a "<pre>" inside them is
# left alone.
OPAQUE = {"pre", "math"}
_OPAQUE_RE = re.compile(r"<!--.*?-->|<(script|style|textarea)\b.*?</\1\s*>"
                        r"|(<(pre|math)\b[^>]*>)(.*?)(</\3\s*>)", re.S | re.I)
_NOT_NEWLINE = re.compile(r"[^\n]")
_TAG = re.compile(r"<[^>]*>")


def _blank(m: re.Match) -> str:
    if m.group(2) is None:
        return m.group(0)
    # same length and the same newlines: every offset html.parser reports stays the source's
    inside = m.group(4)
    blank = _NOT_NEWLINE.sub(" ", inside) if "\n" in inside else " " * len(inside)
    return m.group(2) + blank + m.group(5)


@dataclass(eq=False)
class Node:
    tag: str
    attrs: dict
    parent: "Node | None"
    start: int            # offset of '<'
    inner_start: int      # just after the start tag
    inner_end: int = -1   # offset of the end tag's '<'
    end: int = -1         # just after the end tag
    children: list["Node"] = field(default_factory=list)

    def has_class(self, name: str) -> bool:
        return name in (self.attrs.get("class") or "").split()


class _Builder(HTMLParser):
    def __init__(self, source: str):
        super().__init__(convert_charrefs=True)
        self.source = source
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", source)]
        self.root = Node("#root", {}, None, 0, 0, len(source), len(source))
        self.stack = [self.root]

    def _offset(self) -> int:
        line, col = self.getpos()
        return self.line_starts[line - 1] + col

    def handle_starttag(self, tag, attrs, void=False):
        start = self._offset()
        text = self.get_starttag_text() or ""
        _open(self.stack, tag, {k: v or "" for k, v in attrs}, start, start + len(text), void)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs, void=True)

    def handle_endtag(self, tag):
        _close(self.stack, self.source, tag, self._offset())

    def finish(self) -> Node:
        self.close()
        return _finish(self.stack, self.source)


# What a start tag, an end tag and the end of the input do to the tree (both builders).
def _open(stack: list[Node], tag: str, attrs: dict, start: int, inner_start: int, void: bool) -> None:
    node = Node(tag, attrs, stack[-1], start, inner_start)
    stack[-1].children.append(node)
    if void or tag in VOID:
        node.inner_end = node.end = node.inner_start
    else:
        stack.append(node)


def _close(stack: list[Node], source: str, tag: str, off: int) -> None:
    for i in range(len(stack) - 1, 0, -1):
        if stack[i].tag == tag:
            end = source.find(">", off) + 1 or len(source)
            for n in stack[i + 1:]:          # implicitly closed
                n.inner_end = n.end = off
            stack[i].inner_end, stack[i].end = off, end
            del stack[i:]
            return
    # a stray end tag: ignored


def _finish(stack: list[Node], source: str) -> Node:
    for n in stack[1:]:
        n.inner_end = n.end = len(source)
    return stack[0]


def parse(source: str) -> Node:
    masked = _OPAQUE_RE.sub(_blank, source)
    root = _parse_plain(source, masked) if _quick_path_agrees() else None
    return root if root is not None else parse_with_html_parser(source, masked)


# Inputs this Python's html.parser might read otherwise than the quick path does (security
# releases after 3.11.7/3.12.x changed end tags with spaces, the contents of <textarea> and
# <title>, entities in attribute values, comment ends): the quick path is used only where
# html.parser agrees on all of them.
_PROBES = ("<ul><li>a</ li><li>b</li></ul>", "<p><textarea><li>x</li></textarea></p>",
           "<p><title><b>x</b></title></p>", '<a href="?a=1&copy=2&amp;b">x</a>', "<a/b>x</a>",
           "<p><!-- a -- >b</p>", "<!--->c<p>d</p>", "<br/><p class=x/>y</p >", "<A HREF='y'>z</a>")
_QUICK: bool | None = None


def _quick_path_agrees() -> bool:
    global _QUICK
    if _QUICK is None:
        _QUICK = locatestarttagend_tolerant is not None
        for probe in _PROBES if _QUICK else ():
            masked = _OPAQUE_RE.sub(_blank, probe)
            try:
                quick = _parse_plain(probe, masked)
            except Exception:
                _QUICK = False
                break
            if quick is not None and shape(quick) != shape(parse_with_html_parser(probe, masked)):
                _QUICK = False
                break
    return _QUICK


def shape(node: Node) -> tuple:
    """A node and everything below it as plain data (to compare two trees)."""
    return (node.tag, node.attrs, node.start, node.inner_start, node.inner_end, node.end,
            [shape(c) for c in node.children])


def parse_with_html_parser(source: str, masked: str | None = None) -> Node:
    b = _Builder(source)
    b.feed(_OPAQUE_RE.sub(_blank, source) if masked is None else masked)
    return b.finish()


def _parse_plain(source: str, masked: str) -> Node | None:
    """The tree _Builder makes, for the plain HTML that Markdown writes, found by jumping from
    one "<" to the next with html.parser's own tag patterns (~10x faster than html.parser's
    character-level loop on a diary). None where the HTML is anything less plain (a tag
    html.parser would read as text or leave unfinished, script/style, <!...>, <?...>): the
    caller then asks html.parser itself."""
    stack = [Node("#root", {}, None, 0, 0, len(source), len(source))]
    find, n = masked.find, len(masked)
    i = find("<")
    while i >= 0:
        c = masked[i + 1:i + 2]
        if c.isascii() and c.isalpha():                       # a start tag
            m = locatestarttagend_tolerant.match(masked, i)
            j = m.end()
            end = j + 1 if masked.startswith(">", j) else j + 2 if masked.startswith("/>", j) else -1
            if end < 0:
                return None
            tm = tagfind_tolerant.match(masked, i + 1)
            k, tag, attrs = tm.end(), tm.group(1).lower(), {}
            while k < end:
                am = attrfind_tolerant.match(masked, k)
                if not am:
                    break
                name, rest, value = am.group(1, 2, 3)
                if not rest:
                    value = None
                elif value[:1] == "'" == value[-1:] or value[:1] == '"' == value[-1:]:
                    value = value[1:-1]
                attrs[name.lower()] = htmllib.unescape(value) if value else ""
                k = am.end()
            rest = masked[k:end].strip()
            if rest not in (">", "/>") or tag in ("script", "style"):
                return None
            _open(stack, tag, attrs, i, end, rest == "/>")
            i = find("<", end)
        elif c == "/":                                          # an end tag
            m = endtagfind.match(masked, i)
            if not m:
                return None
            _close(stack, source, m.group(1).lower(), i)
            i = find("<", m.end())
        elif masked.startswith("<!--", i):
            close = commentclose.search(masked, i + 4)
            if close is None:
                return None
            i = find("<", close.end())
        elif c in ("!", "?") or i + 1 >= n:
            return None
        else:                                                   # "<" as text
            i = find("<", i + 1)
    return _finish(stack, source)


def plain_text(fragment: str) -> str:
    """The text of an html fragment, tags dropped and entities decoded (no tree needed)."""
    return htmllib.unescape(_TAG.sub("", fragment))


def inner_html(source: str, node: Node) -> str:
    return source[node.inner_start:node.inner_end]


def text_between(source: str, node: Node, start: int, end: int, skip=lambda n: False) -> str:
    """Plain text of `node`'s content between two offsets, leaving out children where skip()."""
    out, pos = [], start
    for c in node.children:
        if c.end <= start or c.start >= end:
            continue
        out.append(source[pos:c.start])
        if not skip(c):
            out.append(text_between(source, c, max(c.inner_start, start), min(c.inner_end, end), skip))
        pos = c.end
    out.append(source[pos:end])
    raw = "".join(out)
    if node.tag in OPAQUE:       # a leaf whose insides were not parsed: drop their tags here
        raw = _TAG.sub("", raw)
    return htmllib.unescape(_COMMENT.sub("", raw))


def text_of(source: str, node: Node, skip=lambda n: False) -> str:
    return " ".join(text_between(source, node, node.inner_start, node.inner_end, skip).split())


def iter_nodes(node: Node):
    for c in node.children:
        yield c
        yield from iter_nodes(c)


def gaps(source: str, node: Node, start: int, end: int):
    """(offset, text) of the raw text runs directly inside `node` (not inside a child)."""
    pos = start
    for c in node.children:
        if c.end <= start or c.start >= end:
            continue
        if c.start > pos:
            yield pos, source[pos:c.start]
        pos = c.end
    if end > pos:
        yield pos, source[pos:end]
