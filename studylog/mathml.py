"""TeX math -> MathML at build time (no JavaScript, no network).

Reuses pymdownx.arithmatex's tested patterns ($..$ with "smart dollars" so "$5 and $7"
stays text, \\(..\\), $$..$$, \\[..\\], \\begin{env}) and swaps its output for MathML that is
stashed, so emphasis and other inline patterns never see the math.
"""
from __future__ import annotations

import html
import re
from functools import lru_cache

from latex2mathml.converter import convert
import xml.etree.ElementTree as etree

from markdown.inlinepatterns import InlineProcessor
from pymdownx import arithmatex


_UNKNOWN_MACRO = re.compile(r"<mi>\\([A-Za-z]+)</mi>")


@lru_cache(maxsize=4096)
def tex_to_mathml(tex: str, display: bool) -> str:
    tex = tex.strip()
    try:
        out = convert(tex, display="block" if display else "inline")
    except Exception:  # latex2mathml misses some macros: show the source rather than fail
        cls = "math-source display" if display else "math-source"
        return f'<code class="{cls}" title="TeX">{html.escape(tex)}</code>'
    # latex2mathml leaves macros it lacks as <mi>\arg</mi>: show them upright like
    # \operatorname (\arg, \sgn, \tr, \Var ...) instead of a stray backslash
    out = _UNKNOWN_MACRO.sub(r'<mi mathvariant="normal">\1</mi>', out)
    # alttext keeps the TeX for summaries, copy and screen readers
    return out.replace("<math ", f'<math alttext="{html.escape(tex, quote=True)}" ', 1)


class _Inline(arithmatex.InlineArithmatexPattern):
    def __init__(self, pattern, config, md):
        super().__init__(pattern, config)
        self.md = md

    def handleMatch(self, m, data):
        groups = m.groups()
        escapes = groups[0] or (groups[3] if len(groups) > 3 else None)
        if escapes:
            return escapes.replace("\\\\", self.ESCAPED_BSLASH), m.start(0), m.end(0)
        math = groups[2] or (groups[5] if len(groups) > 3 else "")
        return self.md.htmlStash.store(tex_to_mathml(math, False)), m.start(0), m.end(0)


class _InlineDisplay(InlineProcessor):
    """$$..$$ inside a paragraph's text: display math (arithmatex only handles it as a block)."""

    def handleMatch(self, m, data):
        return self.md.htmlStash.store(tex_to_mathml(m.group(1), True)), m.start(0), m.end(0)


class _Block(arithmatex.BlockArithmatexProcessor):
    def __init__(self, pattern, config, md):
        super().__init__(pattern, config, md)
        self.md = md

    def run(self, parent, blocks):
        blocks.pop(0)
        g = self.match.groupdict()
        math = g.get("math") or g.get("math2") or g.get("math3") or ""
        el = etree.SubElement(parent, "div", {"class": "math-display"})
        el.text = self.md.htmlStash.store(tex_to_mathml(math, True))
        return True


class MathExtension(arithmatex.ArithmatexExtension):
    def extendMarkdown(self, md):
        super().extendMarkdown(md)
        # Pandoc's rule on top of smart dollars: a closing $ is never followed by a digit,
        # so "$5/$10" and "$3 or $4" stay prices.
        dollar = arithmatex.RE_SMART_DOLLAR_INLINE
        if dollar.endswith(r"(?<!\s)(?:\$))"):  # else a newer pymdownx: keep its pattern
            dollar = dollar[:-1] + r"(?!\d))"
        pattern = "(?:%s|%s)" % (dollar, arithmatex.RE_BRACKET_INLINE)
        md.inlinePatterns.register(_Inline(pattern, self.getConfigs(), md), "arithmatex-inline", 189.9)
        md.inlinePatterns.register(_InlineDisplay(r"(?<!\\)\$\$((?:\\.|[^\\$])+?)\$\$", md), "math-inline-display", 189.95)
        block = md.parser.blockprocessors["arithmatex-block"]
        new = _Block(block.pattern.pattern, self.getConfigs(), md)
        md.parser.blockprocessors.register(new, "arithmatex-block", 79.9)


_MATH_ALT = re.compile(r'<math alttext="([^"]*)"[^>]*>.*?</math>', re.S)


def math_to_text(fragment: str) -> str:
    """Replace MathML by its TeX source (for plain-text summaries)."""
    return _MATH_ALT.sub(lambda m: html.unescape(m.group(1)), fragment)
