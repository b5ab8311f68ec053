"""`exp:` references and the experiment blocks, resolved at build time.

    [text](exp:NAME)              link to the experiment's page   (exp:NAME@STEP links to that step)
    ![alt](exp:NAME@STEP)         the sample grid at STEP (a snapshot step)
    ![alt](exp:NAME/loss)         the page's loss chart (SVG); exp:NAME/animation the animation; ![](exp:NAME) the final grid
    ```experiment-card            YAML: name: NAME   (optional step: STEP)
    ```experiment-compare         YAML: experiments: [A, B, ...]   (optional: steps: [25, 50, ...], default shared
                                  steps; caption: TEXT)

Every unknown experiment, step, part or block key is an error at the reference's line that lists what exists.
"""
from __future__ import annotations

import difflib
import re
import xml.etree.ElementTree as etree

from markupsafe import Markup
from markupsafe import escape as _escape

from .errors import RefError
from .exp_view import ExperimentView, Img
from .hooks import FenceRef, Hooks, LinkRef

TARGET = re.compile(r"^(?P<name>[^@/#]+)(?:@(?P<step>[^/#]*)|/(?P<part>[^/#]*))?(?:#(?P<anchor>.*))?$")
PARTS = ("loss", "animation")
MAX_COMPARE_DEFAULT_STEPS = 8
CARD_KEYS = ("name", "step")
COMPARE_KEYS = ("caption", "experiments", "steps")


def escape(value) -> str:
    """Escaped text as a plain str, so concatenation never escapes the HTML built around it."""
    return str(_escape(value))


def _did_you_mean(word: str, options, show=str) -> str:
    close = difflib.get_close_matches(word, sorted(options), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(map(show, close))}?)" if close else ""


def _view(views: dict[str, ExperimentView], name: str, where: str) -> ExperimentView:
    v = views.get(name)
    if v is None:
        # the whole list sorted, the same in every message; the likely typo is named apart
        raise RefError(f"unknown experiment {name!r} in {where}{_did_you_mean(name, views)}; "
                       f"known experiments: {', '.join(sorted(views)) or 'none'}")
    return v


def _check_keys(data: dict, known: tuple[str, ...], where: str) -> None:
    """A misspelt key would be silently ignored (a card's `steps: 100` showed the final grid)."""
    unknown = [str(k) for k in data if k not in known]
    if unknown:
        notes = ", ".join(repr(k) + _did_you_mean(k, known, repr) for k in unknown)
        raise RefError(f"{where}: unknown key{'s' if len(unknown) > 1 else ''} {notes}; known keys: {', '.join(known)}")


def _whole(raw, where: str) -> int:
    try:
        return int(str(raw).strip())
    except ValueError:
        raise RefError(f"{where}: step must be a whole number, got {raw!r}") from None


def _step(v: ExperimentView, raw, where: str) -> int:
    step = _whole(raw, where)
    if v.snap(step) is None:
        have = ", ".join(map(str, v.reference_steps)) or "none (the experiment has no result yet)"
        raise RefError(f"{where}: {v.name} has no sample grid at step {step}; its steps: {have}")
    return step


def _img(img: Img, alt: str, lazy: bool = True, cls: str | None = None) -> etree.Element:
    el = etree.Element("img", {"src": img.href, "alt": alt, "width": str(img.width), "height": str(img.height)})
    if lazy:
        el.set("loading", "lazy")
    if cls:
        el.set("class", cls)
    return el


def _img_html(img: Img, alt: str, cls: str = "grid") -> str:
    return (f'<img src="{escape(img.href)}" alt="{escape(alt)}" width="{img.width}" '
            f'height="{img.height}" loading="lazy" class="{cls}">')


def link_handler(views: dict[str, ExperimentView]):
    def handle(ref: LinkRef):
        where = f"exp:{ref.target}"
        m = TARGET.match(ref.target)
        if not m:
            raise RefError(f"malformed reference {where}; use exp:NAME, exp:NAME@STEP or exp:NAME/loss")
        v = _view(views, m["name"], where)
        if m["part"] is not None and m["part"] not in PARTS:
            raise RefError(f"unknown part {m['part']!r} in {where}; parts: {', '.join(PARTS)}")
        step = _step(v, m["step"], where) if m["step"] is not None else None
        # the id on the page is the shown snapshot's step (a smoke run maps declared steps to its own)
        shown_step = v.snap(step).step if step is not None else None
        if not ref.is_image:
            anchor = f"#step-{shown_step}" if step is not None else (f"#{m['part']}" if m["part"] else "")
            return v.page_href + (anchor or (f"#{m['anchor']}" if m["anchor"] else ""))
        alt = ref.text or (f"{v.name} step {step}" if step is not None else v.name)
        if m["part"]:
            # the loss chart is the experiment page's own (Japanese legend, dark mode), not gan's PNG
            img = v.loss_chart_image() if m["part"] == "loss" else v.files.get("animation")
            if img is None:
                raise RefError(f"{where}: {v.name} has no {m['part']} image (status {v.status})")
            el = _img(img, alt, cls="chart-image")
        else:
            snap = v.snap(step) if step is not None else v.final
            if snap is None:
                raise RefError(f"{where}: {v.name} has no sample grids yet (status {v.status})")
            el = _img(snap.img, alt, cls="grid")
        el.set("title", f"{v.name}" + (f" · step {step}" if step is not None else ""))
        anchor = f"#step-{shown_step}" if step is not None else (f"#{m['part']}" if m["part"] else "")
        a = etree.Element("a", {"href": v.page_href + anchor,
                                "class": "exp-figure exp-chart" if m["part"] == "loss" else "exp-figure"})
        a.append(el)
        cap = etree.SubElement(a, "span", {"class": "cap"})
        if m["part"] == "loss":   # the page's legend: which line is which
            for css, label, tail in (("d", "D の損失", " "), ("g", "G の損失", f" · {v.name}")):
                etree.SubElement(cap, "span", {"class": f"key {css}"}).text = label
                cap[-1].tail = tail
        else:
            cap.text = f"{v.name} · step {step}" if step is not None else (
                f"{v.name} · {m['part']}" if m["part"] else f"{v.name} · step {v.final.step}")
        return a
    return handle


def _line(ref: FenceRef, *path) -> int:
    return ref.lines.get(tuple(path), ref.line)


def card_handler(views: dict[str, ExperimentView]):
    def handle(ref: FenceRef) -> str:
        data = ref.data if isinstance(ref.data, dict) else {}
        _check_keys(data, CARD_KEYS, "experiment-card")
        name = data.get("name")
        if not isinstance(name, str):
            raise RefError("experiment-card needs `name: EXPERIMENT`")
        v = _view(views, name, "experiment-card")
        snap = v.snap(_step(v, data["step"], "experiment-card")) if "step" in data else v.final
        last = v.last_record
        figures = []
        if v.run:
            figures.append(f"{v.run.get('steps_done', '?')} ステップ")
            figures.append(f"{v.run.get('wall_seconds', 0):.0f} 秒")
        if last:
            figures.append(f"D 損失 {last['d_loss']:.3f} · G 損失 {last['g_loss']:.3f}")
        img = _img_html(snap.img, f"{v.doc.title}: step {snap.step} の生成サンプル") if snap else '<p>結果はまだありません。</p>'
        return Markup(
            f'<figure class="exp-card"><a href="{escape(v.page_href)}">{img}</a>'
            f'<figcaption><a href="{escape(v.page_href)}">{escape(v.doc.title)}</a> '
            f'<span class="badge status-{escape(v.status)}" title="{escape(v.status_help)}">{escape(v.status_label)}</span>'
            + (f'<br><span class="figures">step {snap.step} · ' + escape(" · ".join(figures)) + "</span>" if snap else "")
            + "</figcaption></figure>")
    return handle


def compare_handler(views: dict[str, ExperimentView]):
    def handle(ref: FenceRef) -> str:
        data = ref.data if isinstance(ref.data, dict) else {}
        _check_keys(data, COMPARE_KEYS, "experiment-compare")
        names = data.get("experiments")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise RefError("experiment-compare needs `experiments: [NAME, NAME, ...]`")
        vs = [_view(views, n, "experiment-compare") for n in names]
        steps = data.get("steps")
        if steps is None:
            shared = sorted(set.intersection(*(set(v.reference_steps) for v in vs)))
            stride = max(1, -(-len(shared) // MAX_COMPARE_DEFAULT_STEPS))
            steps = shared[stride - 1::stride]
        if not isinstance(steps, list) or not steps:
            raise RefError("experiment-compare: `steps` must be a list of snapshot steps")
        steps = [_whole(s, "experiment-compare") for s in steps]
        # every (experiment, step) pair without a grid, in one message: fixing them one build at a time is slow
        missing = [(v, [s for s in steps if v.snap(s) is None]) for v in vs]
        missing = [(v, ss) for v, ss in missing if ss]
        if missing:
            raise RefError("experiment-compare: " + "; ".join(
                f"{v.name} has no sample grid at step{'s' if len(ss) > 1 else ''} {', '.join(map(str, ss))} "
                f"(its steps: {', '.join(map(str, v.reference_steps)) or 'none, the experiment has no result yet'})"
                for v, ss in missing), line=_line(ref, "steps"))   # the `steps:` key, else the fence
        head = "".join(f'<th scope="col"><a href="{escape(v.page_href)}">{escape(v.doc.title)}</a></th>' for v in vs)
        rows = []
        for s in steps:
            cells = "".join(f"<td>{_img_html(v.snap(s).img, f'{v.doc.title}: step {s}')}</td>" for v in vs)
            rows.append(f'<tr><th scope="row">step {s}</th>{cells}</tr>')
        caption = escape(data.get("caption") or " と ".join(v.name for v in vs) + " を同じステップで比較")
        return Markup(f'<div class="exp-compare"><table><caption>{caption}</caption>'
                      f'<thead><tr><th scope="col">ステップ</th>{head}</tr></thead>'
                      f'<tbody>{"".join(rows)}</tbody></table></div>')
    return handle


def register(hooks: Hooks, views: dict[str, ExperimentView]) -> None:
    hooks.register_link("exp", link_handler(views))
    hooks.register_fence("experiment-card", card_handler(views))
    hooks.register_fence("experiment-compare", compare_handler(views))
