"""References inside Markdown: resolving them, and re-checking a cached rendering's.

Light on purpose (no Markdown, Pygments or Jinja import): an incremental build re-resolves
every cached document's references (`recheck`) and renders only the ones that changed.
"""
from __future__ import annotations

import html as htmllib
import re
import xml.etree.ElementTree as etree
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from markupsafe import Markup

from .errors import BuildError, RefError, display_path
from .hooks import FenceRef, Hooks, LinkRef, RenderContext


@dataclass
class Rendered:
    html: str
    toc: str
    summary_html: str
    summary_text: str
    errors: list[BuildError] = field(default_factory=list)
    assets: dict[str, Path] = field(default_factory=dict)
    references: list[tuple[str, str]] = field(default_factory=list)
    # what each reference resolved to, so a cached rendering can be re-checked without
    # re-rendering (studylog.manifest): [(kind, inputs..., result)]
    deps: list[tuple] = field(default_factory=list)


# code fences (at any depth: superfences) and code spans: a link written there is shown, not made
_CODE = re.compile(r"^[ \t>]*(`{3,}|~{3,})[^\n]*\n.*?^[ \t>]*\1|(?<![`\\])(`+)(?!`)(?:(?!\n[ \t>]*\n).)+?(?<!`)\2(?!`)", re.M | re.S)
_NOT_NEWLINE = re.compile(r"[^\n]")
_PUNCT = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def blank_code(markdown_source: str) -> str:
    """The Markdown with its code fences and spans blanked out, lines and offsets kept: where
    links and references were written (here and in the link check's error lines)."""
    return _CODE.sub(lambda m: _NOT_NEWLINE.sub(" ", m.group(0)), markdown_source)


def _ref_patterns(value: str) -> list[tuple[str, re.Pattern]]:
    """Where a target may be written: inline `(value ...)` first, then a reference definition."""
    # each punctuation character may be backslash-escaped in the source
    spelled = "".join(("\\\\?" + re.escape(c)) if c in _PUNCT else re.escape(c) for c in value)
    target = rf"(?P<target><{spelled}>|{spelled}(?![^\s)]))"
    title = r"""(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?"""
    return [("inline", re.compile(rf"\]\(\s*{target}{title}\s*\)")),
            ("definition", re.compile(rf"^[ \t>]*\[[^\]\n]+\]:[ \t]*{target}(?=\s|$)", re.M))]


_TITLE = r"""(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?"""
_AFTER = {("inline", True): re.compile(rf">{_TITLE}\s*\)"), ("inline", False): re.compile(rf"(?![^\s)]){_TITLE}\s*\)"),
          ("definition", True): re.compile(r">(?=\s|$)", re.M), ("definition", False): re.compile(r"(?=\s|$)", re.M)}
_DEFINITION_START = re.compile(r"[ \t>]*\[[^\]\n]+\]:[ \t]*<?")


def escaped_punctuation(body: str) -> set[str]:
    """The punctuation characters written backslash-escaped somewhere in `body`."""
    return set(_ESCAPED.findall(body)) & _PUNCT


_ESCAPED = re.compile(r"(?<=\\).", re.S)    # every character right after a backslash


def find_ref(body: str, value: str, kind: str, start: int, escaped: set[str] | None = None) -> tuple[int, int] | None:
    """(start of the target, end of the match) of _ref_patterns(value)[kind]'s first match
    at or after `start`. The same answer without compiling two patterns for every reference
    (a third of a clean build's Markdown time went there): when no punctuation of `value`
    is written backslash-escaped anywhere in `body` (`escaped`: escaped_punctuation(body),
    worked out once a document), the target can only be `value` as it is, so each literal
    occurrence is tried in turn with patterns compiled once."""
    if escaped is None:
        escaped = escaped_punctuation(body)
    if value.startswith("<") or not escaped.isdisjoint(value):
        pattern = dict(_ref_patterns(value))[kind]
        m = pattern.search(body, start)
        return (m.start("target"), m.end()) if m else None
    pos = body.find(value, start)
    while pos >= 0:
        angle = pos > 0 and body[pos - 1] == "<"
        head = pos - 1 if angle else pos              # where the target starts
        if kind == "inline":
            j = head
            while j > 0 and body[j - 1].isspace():    # \s* between "](" and the target
                j -= 1
            match_start = j - 2
            ok = match_start >= 0 and body.startswith("](", match_start)
        else:
            match_start = body.rfind("\n", 0, pos) + 1  # a definition starts its line
            ok = _DEFINITION_START.fullmatch(body, match_start, pos) is not None
        if ok and match_start >= start:
            m = _AFTER[kind, angle].match(body, pos + len(value))
            if m is not None:
                return head, m.end()
        pos = body.find(value, pos + 1)
    return None


class _State:
    """Per-document state shared by the tree processor and fence formatters."""

    def __init__(self, doc, ctx: RenderContext):
        self.doc, self.ctx = doc, ctx
        self.errors: list[BuildError] = []
        # every resolved reference as (scheme, target) or (fence lang, YAML source): backlinks
        self.references: list[tuple[str, str]] = []
        self.cursor: dict[str, int] = {}   # where to search next for a repeated reference
        self.deps: list[tuple] = []
        self._masked: str | None = None   # the body with code blanked out (line_of_ref)
        self._escaped: set[str] | None = None   # its backslash-escaped punctuation

    def line_of(self, needle: str, pattern: re.Pattern | None = None) -> int:
        """Line in the file of the next occurrence of `needle` (or regex) in the body."""
        body, start = self.doc.body, self.cursor.get(needle, 0)
        if pattern is not None:
            m = pattern.search(body, start)
            pos = m.start() if m else -1
        else:
            pos = body.find(needle, start)
            if pos < 0:
                pos = body.find(needle)
        if pos < 0:
            return self.doc.body_line
        self.cursor[needle] = pos + 1
        return self.doc.body_line + body.count("\n", 0, pos)

    def line_of_ref(self, value: str) -> int:
        """Line in the file of the next unused place where the link/image target `value` is
        written: `(value)`, `(value "title")`, `(<value>)` or a `[id]: value` definition, the
        whole target matched (a longer target it starts is another reference) and code spans
        and fences skipped. Elements come in the body's order, so each takes the next place;
        a reference used more often than written (`[x][id]` twice) takes its first place."""
        if self._masked is None:
            self._masked = blank_code(self.doc.body or "")
        body = self._masked
        if self._escaped is None:
            self._escaped = escaped_punctuation(body)
        for kind in ("inline", "definition"):
            key = f"{kind}:{value}"
            found = (find_ref(body, value, kind, self.cursor.get(key, 0), self._escaped)
                     or find_ref(body, value, kind, 0, self._escaped))
            if found is not None:
                self.cursor[key] = found[1]
                return self.doc.body_line + body.count("\n", 0, found[0])
        return self.line_of(value)

    def error(self, line: int, message: str) -> None:
        self.errors.append(BuildError(display_path(self.doc.path), line, message))


def _local_file(el, attr, value, is_image, state: _State, line: int):
    """A relative path: a .md file becomes that page's URL (GitHub-preview friendly);
    any other file is copied into the site once. Missing or outside content/ = error."""
    what = "image" if is_image else "link"
    content = state.ctx.site.config.content_dir.resolve()
    raw, _, anchor = htmllib.unescape(value).partition("#")
    path = unquote(raw.split("?")[0])
    src = (state.doc.path.parent / path).resolve()   # resolve(): symlinks may not escape either
    if not src.is_relative_to(content):
        state.error(line, f"{what} {value!r} points outside the content folder")
        return
    if not src.is_file():
        state.error(line, f"{what} {value!r} not found (looked for {display_path(src)})")
        return
    if not is_image and src.suffix == ".md":
        doc = state.ctx.site.by_path(src)
        if doc is None:
            state.error(line, f"link {value!r} is to a draft or a file that is not a page")
            return
        el.set(attr, state.ctx.urls.doc(doc) + (f"#{anchor}" if anchor else ""))
        return
    rel = src.relative_to(content).as_posix()
    el.set(attr, state.ctx.copy_asset(src, state.ctx.urls.path_of("asset", rel)) + (f"#{anchor}" if anchor else ""))
    if is_image:
        el.set("loading", "lazy")
        size = cached_image_size(src)
        if size:
            el.set("width", str(size[0]))
            el.set("height", str(size[1]))


IMAGE_SIZES: dict = {}   # (path, size, mtime_ns) -> (w, h) | None; the build keeps it between runs


def cached_image_size(path: Path):
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key in IMAGE_SIZES:
        from .manifest import note_read
        note_read(path, st)        # not opened, but what it holds decided the page
        return IMAGE_SIZES[key]
    try:
        from PIL import Image  # header read only
        with Image.open(path) as im:
            size = tuple(im.size)
    except Exception:
        size = None
    IMAGE_SIZES[key] = size
    return size


def _result_sig(result) -> tuple[str, str]:
    """A link handler's result as comparable data."""
    if isinstance(result, Markup):
        return ("markup", str(result))
    if isinstance(result, etree.Element):
        return ("element", etree.tostring(result, encoding="unicode"))
    return ("url", str(result))


def run_fence(hooks: Hooks, state: _State, lang: str, source: str, options: dict, line: int) -> str | None:
    """Parse a handled fence's YAML body and call its handler; None (and an error) on failure."""
    import yaml
    try:
        loader = yaml.SafeLoader(source)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        state.error(line + 1 + (mark.line if mark else 0), f"{lang} block is not valid YAML: {getattr(e, 'problem', e)}")
        return None
    from .content import _line_map
    lines: dict = {}
    _line_map(node, (), lines, line + 1)
    ref = FenceRef(lang, source, data, lines, state.doc, line, state.ctx, options)
    try:
        out = str(hooks.fences[lang](ref))
    except RefError as e:   # a handler may name the line of the key at fault (ref.lines)
        state.error(e.line or line, str(e))
        return None
    state.references.append((lang, source))
    return out


def recheck(doc, deps: list[tuple], hooks: Hooks, ctx: RenderContext):
    """Re-resolve a cached rendering's references against the current site.

    Returns (references, assets) when every reference resolves exactly as it did when the
    HTML was made (so that HTML is still right), else None (render again)."""
    state = _State(doc, RenderContext(ctx.site, ctx.urls, {}))
    for dep in deps:
        kind = dep[0]
        try:
            if kind == "link":
                _, scheme, target, is_image, text, line, title, sig = dep
                handler = hooks.links.get(scheme)
                if handler is None:
                    return None
                result = handler(LinkRef(scheme, target, is_image, text, doc, line, state.ctx, title))
                if _result_sig(result) != sig:
                    return None
                state.references.append((scheme, target))
            elif kind == "local":
                _, tag, attr, value, is_image, line, attrs = dep
                el = etree.Element(tag, {attr: value})
                _local_file(el, attr, value, is_image, state, line)
                if state.errors or sorted(el.attrib.items()) != attrs:
                    return None
            elif kind == "fence":
                _, lang, source, options, line, out = dep
                if lang not in hooks.fences or run_fence(hooks, state, lang, source, dict(options), line) != out:
                    return None
            else:
                return None
        except RefError:
            return None
    return state.references, state.ctx.assets
