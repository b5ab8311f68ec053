"""Hostile or odd input that must become `path:line:` errors before anything is rendered.

- A content file that is a symlink resolving outside the content folder is not read: what it
  points at would be published.
- Characters that HTML and XML cannot carry (NUL and other C0/C1 controls but tab and newline,
  noncharacters such as U+FFFE, lone surrogates) are errors at their line, in the text and in
  front matter values (YAML escapes such as "\\x01" make them too): written through, they break
  the feed's XML and are parse errors in every page.
"""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path

_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufdd0-\ufdef\ufffe\uffff\ud800-\udfff]"
                  "|[\U0001fffe\U0001ffff\U0002fffe\U0002ffff\U0003fffe\U0003ffff\U0004fffe\U0004ffff"
                  "\U0005fffe\U0005ffff\U0006fffe\U0006ffff\U0007fffe\U0007ffff\U0008fffe\U0008ffff"
                  "\U0009fffe\U0009ffff\U000afffe\U000affff\U000bfffe\U000bffff\U000cfffe\U000cffff"
                  "\U000dfffe\U000dffff\U000efffe\U000effff\U000ffffe\U000fffff\U0010fffe\U0010ffff]")


def _name(ch: str) -> str:
    return f"U+{ord(ch):04X}" + (f" {unicodedata.name(ch)}" if unicodedata.name(ch, "") else "")


def bad_chars(text: str, first_line: int = 1) -> list[tuple[int, str]]:
    """(line, message) for each line holding a character a web page cannot carry."""
    out = []
    seen_lines = set()
    for m in _BAD.finditer(text):
        line = first_line + text.count("\n", 0, m.start())
        if line not in seen_lines:
            seen_lines.add(line)
            out.append((line, f"character {_name(m.group())} cannot appear in a web page or feed; remove it"))
    return out


def bad_values(meta, lines: dict, prefix: tuple = ()) -> list[tuple[int, str]]:
    """The same check over front matter values (after YAML escapes were decoded)."""
    out = []
    items = meta.items() if isinstance(meta, dict) else enumerate(meta) if isinstance(meta, list) else ()
    for k, v in items:
        path = prefix + (k,)
        if isinstance(v, str):
            m = _BAD.search(v) or (_BAD.search(k) if isinstance(k, str) else None)
            if m:
                line = next((lines[p] for p in (path, prefix) if p in lines), 1)
                out.append((line, f"front matter {'.'.join(map(str, path))!r}: character {_name(m.group())} "
                                  "cannot appear in a web page or feed"))
        elif isinstance(v, (dict, list)):
            out.extend(bad_values(v, lines, path))
    return out


UNRESOLVABLE = "cannot resolve the path (a symlink loop?)"


def real_outside(path: Path, content_dir: Path) -> Path | None:
    """Where `path` really is (symlinks followed) when that is outside the content folder, else
    None. Raises ValueError when it cannot be resolved (a symlink loop)."""
    try:
        real = Path(path).resolve()
    except (OSError, RuntimeError, ValueError) as e:
        raise ValueError(UNRESOLVABLE) from e
    return None if real.is_relative_to(Path(content_dir).resolve()) else real


def outside_link(path: Path, content_dir: Path) -> str | None:
    """Why `path` (a file found under the content folder) must not be read, or None."""
    try:
        real = real_outside(path, content_dir)
    except ValueError as e:
        return str(e)
    if real is not None:
        return f"this file is a symlink to {real}, outside the content folder; copy the file in instead"
    return None


def check_copies(copies: dict, content_dir: Path) -> list:
    """Files about to be copied into the site (output path -> source) that lie in the content
    folder but resolve outside it: a symlink there would publish whatever it points at.
    (Sources outside the content folder come from code: templates, results, setup hooks.)
    -> BuildErrors at the offending path."""
    from .errors import BuildError, display_path
    content = Path(content_dir).absolute()
    real_content = content.resolve()
    errors = []
    for rel, src in sorted(copies.items()):
        src = Path(src).absolute()
        if not (src.is_relative_to(content) or src.is_relative_to(real_content)):
            continue
        try:
            real = src.resolve()
        except (OSError, RuntimeError):
            real = None
        if real is None or not real.is_relative_to(real_content):
            errors.append(BuildError(display_path(src), 1, f"refusing to publish /{rel}: the file is a symlink to "
                                     f"{real}, outside the content folder; copy the file in instead"))
    return errors


_CHAR_REF = re.compile(r"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));?")


def _bad_code_point(n: int) -> bool:
    return (n > 0x10FFFF or n == 0 or (n < 0x20 and n not in (9, 10)) or 0x7F <= n <= 0x9F
            or 0xD800 <= n <= 0xDFFF or 0xFDD0 <= n <= 0xFDEF or (n & 0xFFFE) == 0xFFFE)


def check_rendered(docs) -> list:
    """Numeric character references that Markdown passes through from the text (`&#0;`,
    `&#x80;`, `&#xD800;`) to code points a page cannot carry: errors at their line.
    (References inside code are escaped by Markdown and never reach here.)"""
    from .errors import BuildError, display_path
    errors = []
    fine: set[tuple[str, str]] = set()    # references seen to be good (most pages repeat a few)
    for doc in docs:
        html = getattr(doc, "html", "") or ""
        if "&#" not in html:
            continue
        refs = set(_CHAR_REF.findall(html)) - fine
        if not refs:
            continue
        good = {r for r in refs if not _bad_code_point(int(r[0], 16) if r[0] else int(r[1]))}
        fine |= good
        if good == refs:
            continue
        for m in _CHAR_REF.finditer(html):
            n = int(m.group(1), 16) if m.group(1) else int(m.group(2))
            if _bad_code_point(n):
                pos = doc.body.find(m.group(0).rstrip(";"))
                line = doc.body_line + doc.body.count("\n", 0, pos) if pos >= 0 else doc.body_line
                errors.append(BuildError(display_path(doc.path), line,
                                         f"character reference {m.group(0)!r} names U+{n:04X}, which cannot appear in a web page"))
    return errors
