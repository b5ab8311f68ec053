"""The Markdown pipeline: one configured Markdown instance, reused with reset().

Extensions: tables, footnotes, superfences (code at any depth) + Pygments, toc anchors that keep
Japanese, MathML math, and the reference layer: every `[..](scheme:..)` / `![..](scheme:..)`
goes to a link handler from `Hooks`, every fence whose language has a handler goes to it,
and relative image paths are copied into the site.
"""
from __future__ import annotations

import html as htmllib
import re
import xml.etree.ElementTree as etree

import markdown
from markdown.extensions import Extension
from markdown.postprocessors import Postprocessor
from markdown.treeprocessors import Treeprocessor
from markupsafe import Markup

from .errors import RefError
from .hooks import Hooks, LinkRef, RenderContext
from .mdrefs import IMAGE_SIZES, Rendered, _State, _local_file, _result_sig, recheck, run_fence  # noqa: F401 (re-exported)
from .mathml import MathExtension, math_to_text
from .slugs import toc_slugify

def _speed_up_pygments() -> None:
    """pymdownx builds a Pygments formatter per code block, and each one recomputes the
    style's whole stylesheet (~0.6 ms) that we never use (CSS comes from render.pygments_css).
    Reuse it per style: same output, ~15% of a large build's Markdown time saved."""
    from pymdownx import highlight
    base = getattr(highlight, "BlockHtmlFormatter", None)
    if base is None or getattr(base, "_studylog_cached", False):
        return

    class CachedBlockHtmlFormatter(base):
        _studylog_cached = True
        _sheets: dict = {}

        def _create_stylesheet(self):
            key = (self.style, self.classprefix)
            hit = self._sheets.get(key)
            if hit is None:
                super()._create_stylesheet()
                self._sheets[key] = (self.ttype2class, self.class2style)
            else:
                self.ttype2class, self.class2style = hit

    highlight.BlockHtmlFormatter = CachedBlockHtmlFormatter


def _remember_lexers() -> None:
    """pymdownx asks Pygments for a fence's lexer on every block, and a language Pygments lacks
    (mermaid, a typo) first scans every installed plugin (~4 ms a block). Remember which class
    each name finds, or that it finds none; each block still gets a lexer of its own (MIME and
    Modula-2 lexers keep state from the text they read)."""
    import functools

    import pygments.lexers
    from pymdownx import highlight
    if hasattr(highlight.get_lexer_by_name, "cache_clear"):
        return

    @functools.lru_cache(maxsize=256)
    def lookup(name):
        try:
            return pygments.lexers.find_lexer_class_by_name(name), None
        except Exception as e:
            return None, (type(e), e.args)

    def get_lexer_by_name(name, **opts):
        try:
            cls, failed = lookup(name)
        except TypeError:                      # not a string: let Pygments say what is wrong
            return pygments.lexers.get_lexer_by_name(name, **opts)
        if failed is not None:
            raise failed[0](*failed[1])        # a fresh one: a kept exception grows its traceback
        return cls(**opts)

    get_lexer_by_name.cache_clear = lookup.cache_clear
    highlight.get_lexer_by_name = get_lexer_by_name


_speed_up_pygments()
_remember_lexers()
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*):(.*)$", re.I)
_EXTERNAL = re.compile(r"^([a-z][a-z0-9+.-]*:|//|/|#)", re.I)


class _RefProcessor(Treeprocessor):
    """Resolves scheme links/images through Hooks and copies relative images."""

    def __init__(self, md, renderer: "MarkdownRenderer"):
        super().__init__(md)
        self.renderer = renderer

    def run(self, root):
        state = self.renderer.state
        parents = {c: p for p in root.iter() for c in p}
        for el in list(root.iter()):
            if el.tag == "a" and el.get("href"):
                self._resolve(el, "href", False, parents, state)
            elif el.tag == "img" and el.get("src"):
                self._resolve(el, "src", True, parents, state)

    def _resolve(self, el, attr, is_image, parents, state: _State):
        value = el.get(attr)
        # this runs before Markdown restores backslash escapes: `post:gan\-practice` would
        # reach the handler as placeholders
        unescape = self.md.treeprocessors["unescape"] if "unescape" in self.md.treeprocessors else None
        if unescape is not None and "\x02" in value:
            value = unescape.unescape(value)
        m = _SCHEME.match(value)
        hooks = self.renderer.hooks
        if m and m.group(1) in hooks.links:
            scheme, target = m.group(1), m.group(2)
            line = state.line_of_ref(value)
            text = el.get("alt", "") if is_image else "".join(el.itertext())
            ref = LinkRef(scheme, target, is_image, text, state.doc, line, state.ctx, el.get("title"))
            try:
                result = hooks.links[scheme](ref)
            except RefError as e:
                state.error(line, str(e))
                return
            state.references.append((scheme, target))
            state.deps.append(("link", scheme, target, is_image, text, line, ref.title, _result_sig(result)))
            if isinstance(result, Markup):
                _replace_with_text(el, parents, self.md.htmlStash.store(str(result)))
            elif isinstance(result, etree.Element):
                _replace(el, parents, result)
            else:
                el.set(attr, str(result))
        elif not _EXTERNAL.match(value):
            line = state.line_of_ref(value)
            n_errors = len(state.errors)
            _local_file(el, attr, value, is_image, state, line)
            if len(state.errors) == n_errors:
                state.deps.append(("local", el.tag, attr, value, is_image, line, sorted(el.attrib.items())))


def _replace(el, parents, new):
    parent = parents.get(el)
    if parent is None:
        return
    new.tail = el.tail
    idx = list(parent).index(el)
    parent.remove(el)
    parent.insert(idx, new)


def _replace_with_text(el, parents, text):
    parent = parents.get(el)
    if parent is None:
        return
    idx = list(parent).index(el)
    joined = text + (el.tail or "")
    if idx == 0:
        parent.text = (parent.text or "") + joined
    else:
        prev = parent[idx - 1]
        prev.tail = (prev.tail or "") + joined
    parent.remove(el)


class _RefExtension(Extension):
    def __init__(self, renderer):
        super().__init__()
        self.renderer = renderer

    def extendMarkdown(self, md):
        # after inline patterns (20) built the links, before toc (5) and unescape (0)
        md.treeprocessors.register(_RefProcessor(md, self.renderer), "studylog-refs", 15)
        # after the stashed fences are put back (raw_html, 30)
        md.postprocessors.register(_BlockOutOfParagraph(md), "studylog-unnest", 25)


class _BlockOutOfParagraph(Postprocessor):
    """A fence right under a paragraph's line (no blank line between: CommonMark lets a fence
    interrupt a paragraph) comes back from the stash inside that <p>, which HTML forbids:
    close the paragraph before the block, and open one again for any text after it."""
    NESTED = re.compile(r"<p>((?:(?!</?p>).)*?)(<(div|pre|table|figure|ul|ol|blockquote)\b(?:(?!</?p>).)*</\3>)"
                        r"((?:(?!</?p>).)*)</p>", re.S)

    def run(self, text: str) -> str:
        while True:
            text, n = self.NESTED.subn(self._split, text)
            if not n:
                return text

    @staticmethod
    def _split(m: re.Match) -> str:
        before, block, after = m.group(1).strip(), m.group(2), m.group(4).strip()
        return (f"<p>{before}</p>\n" if before else "") + block + (f"\n<p>{after}</p>" if after else "")


class MarkdownRenderer:
    """Renders Documents. Build one per process after every hook is registered."""

    def __init__(self, hooks: Hooks, ctx: RenderContext):
        self.hooks, self.ctx = hooks, ctx
        self.state: _State | None = None
        fences = [{"name": lang, "class": lang, "format": self._fence_formatter(lang)} for lang in hooks.fences]
        self.md = markdown.Markdown(
            extensions=["tables", "footnotes", "attr_list", "def_list", "md_in_html",
                        "pymdownx.highlight", "pymdownx.superfences", "pymdownx.tilde",
                        "toc", MathExtension(smart_dollar=True), _RefExtension(self)],
            extension_configs={
                "pymdownx.highlight": {"use_pygments": True, "css_class": "highlight", "guess_lang": False},
                "pymdownx.superfences": {"custom_fences": fences},
                "toc": {"slugify": toc_slugify, "permalink": "#", "permalink_class": "anchor",
                        "permalink_title": "この見出しへのリンク", "toc_depth": "2-4"},
                "footnotes": {"BACKLINK_TITLE": "本文 %d へ戻る"},
            },
            output_format="html",
        )

    def _fence_formatter(self, lang):
        pattern = re.compile(rf"^[ \t>]*(`{{3,}}|~{{3,}})[ \t]*\{{?[ \t]*\.?{re.escape(lang)}\b", re.M)

        def fmt(source, language, class_name, options, md, **kwargs):
            state = self.state
            line = state.line_of(f"fence:{lang}", pattern)
            opts = dict(options or {})
            out = run_fence(self.hooks, state, lang, source, opts, line)
            if out is None:
                return ""
            state.deps.append(("fence", lang, source, sorted(opts.items()), line, out))
            return out
        return fmt

    def render(self, doc) -> Rendered:
        self.state = _State(doc, RenderContext(self.ctx.site, self.ctx.urls, {}))
        md = self.md
        md.reset()
        try:
            body = md.convert(doc.body)
        except Exception as e:  # a Markdown extension crash must not hide other files' errors
            self.state.error(doc.body_line, f"cannot render Markdown: {type(e).__name__}: {e}")
            body = ""
        toc = getattr(md, "toc", "")
        summary_html, summary_text = _summary(doc, body)
        state, self.state = self.state, None
        return Rendered(body, toc if '<li' in toc else "", summary_html, summary_text, state.errors,
                        state.ctx.assets, state.references, state.deps)


_FIRST_P = re.compile(r"<p>(.*?)</p>", re.S)
_FNREF = re.compile(r'<sup id="fnref[^"]*">.*?</sup>', re.S)
_A_TAG = re.compile(r"</?a\b[^>]*>")
_TAGS = re.compile(r"<[^>]+>")


def _summary(doc, body_html: str) -> tuple[str, str]:
    """Front matter `summary`, else the first paragraph with text (links unwrapped,
    footnote refs and images dropped)."""
    if doc.summary:
        return str(Markup.escape(doc.summary)), doc.summary
    for m in _FIRST_P.finditer(body_html):
        frag = re.sub(r"<img\b[^>]*>", "", _A_TAG.sub("", _FNREF.sub("", m.group(1)))).strip()
        text = " ".join(htmllib.unescape(_TAGS.sub("", math_to_text(frag))).split())
        if text:
            return frag, text
    return "", ""
