"""What the experiment pages, the gallery and the references show of each result.

Built once per build from the loaded results: hrefs of every result file (each copied into the
site once, under its experiment's folder), image sizes, charts on the slider's step axis, and
the tables. Templates and `exp_refs` read these views; nothing here trains or imports TensorFlow.
"""
from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field, fields
from pathlib import Path

from markupsafe import Markup

from . import charts
from .experiments import Plan, Result

STATUS_LABELS = {"fresh": "最新", "smoke": "スモーク", "failed": "失敗", "missing": "未実行"}
STATUS_HELP = {
    "fresh": "保存済みの結果は今の設定・コード・データと一致しています",
    "smoke": "--smoke による縮小版の試走です。本番の結果ではありません",
    "failed": "損失が有限でなくなったため学習を止めました",
    "missing": "まだ学習していません",
}

FLAG_LABELS = {"non_finite": "損失が非有限", "d_collapse": "識別器の圧勝", "mode_collapse": "モード崩壊",
               "stalled": "停滞"}
FLAG_HELP = {
    "non_finite": "損失が NaN または無限大になりました",
    "d_collapse": "識別器の損失がほぼ 0 のまま生成器の損失が大きい状態が、いくつものスナップショットで続きました",
    "mode_collapse": "生成サンプルの数字の種類か特徴の多様性が、本物のデータよりずっと少なくなっています",
    "stalled": "後半の学習で品質が良くなっていません",
}


# The chart rules of style.css (light and dark), for a chart shown through <img>, which cannot
# see the page's stylesheet. Keep in step with the `svg.chart` rules there.
CHART_IMAGE_CSS = (
    ".grid{stroke:#d8dee4;stroke-width:1}"
    # in an <img>, 100vw is the image's own width: the labels grow as the image shrinks
    ".tick{fill:#59636e;font-size:clamp(13px,calc(13px + (720px - 100vw)*.03),26px);"
    "font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}"
    ".line{fill:none;stroke-width:1.6}.line.d{stroke:#0b5cad}.line.g{stroke:#c2410c}.step-marker{display:none}"
    "@media (prefers-color-scheme: dark){.grid{stroke:#33383e}.tick{fill:#a2a9b1}"
    ".line.d{stroke:#58a6ff}.line.g{stroke:#f0883e}}")


def _num(v) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else float("nan")


@dataclass(frozen=True)
class Flag:
    flag: str
    label: str
    help: str
    step: int | None
    message: str


@dataclass(frozen=True)
class Img:
    href: str
    width: int
    height: int


@dataclass(frozen=True)
class Snap:
    step: int
    img: Img


@dataclass
class ExperimentView:
    name: str
    doc: object
    plan: Plan | None
    result: Result | None
    page_href: str
    snaps: list[Snap] = field(default_factory=list)
    files: dict[str, Img | str] = field(default_factory=dict)   # loss_chart, animation: Img; csv: href
    site: object = None

    # --- status and facts ---
    @property
    def status(self) -> str:
        return self.result.status if self.result else "missing"

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def status_help(self) -> str:
        return STATUS_HELP.get(self.status, "")

    @property
    def run(self) -> dict:
        return self.result.run if self.result else {}

    @property
    def steps(self) -> list[int]:
        return [s.step for s in self.snaps]

    @property
    def declared_steps(self) -> list[int]:
        """The snapshot steps the configuration promises: every sample_every, and the last."""
        if not self.plan:
            return self.steps
        every, last = self.plan.config.sample_every, self.plan.config.steps
        return list(range(every, last + 1, every)) + ([last] if last % every else [])

    @property
    def reference_steps(self) -> list[int]:
        """Steps a post may reference: a smoke run stands in for the declared ones."""
        return self.declared_steps if self.status == "smoke" else self.steps

    def snap(self, step: int) -> Snap | None:
        """The grid at `step`. A smoke run has only a few tiny steps: a declared step maps to
        the smoke snapshot at the same fraction of the run, so a smoke build checks every page."""
        if self.status == "smoke" and self.snaps and step in self.declared_steps:
            frac = step / max(self.declared_steps[-1], 1)
            return min(self.snaps, key=lambda s: (abs(s.step / self.snaps[-1].step - frac), -s.step))
        return next((s for s in self.snaps if s.step == step), None)

    @property
    def final(self) -> Snap | None:
        return self.snaps[-1] if self.snaps else None

    @property
    def max_step(self) -> int:
        run_steps = (self.run.get("run_config") or self.run.get("config") or {}).get("steps", 0)
        return max([run_steps or 0] + self.steps + [r["step"] for r in self.records[-1:]] or [1])

    @property
    def slider_step(self) -> int:
        """Keyboard step of the slider: the spacing of the snapshots (their gcd)."""
        g = 0
        for s in self.steps:
            g = math.gcd(g, s)
        return g or 1

    @property
    def records(self) -> list[dict]:
        return self.result.records if self.result else []

    @property
    def last_record(self) -> dict | None:
        return self.records[-1] if self.records else None

    def facts(self) -> list[tuple[str, str]]:
        run = self.run
        if not run:
            return []
        v = run.get("versions", {})
        sps = run.get("steps_per_second")
        out = [("状態", f"{self.status_label} ({self.status})"),
               ("ステップ", f"{run.get('steps_done', '?')}"),
               ("経過時間", f"{run.get('wall_seconds', 0):.1f} 秒"),
               ("速度", f"{sps:.2f} ステップ/秒" if isinstance(sps, (int, float)) else "—"),
               ("シード", str(run.get("seed", "—"))),
               ("開始", run.get("started", "—")), ("終了", run.get("ended", "—")),
               ("バージョン", ", ".join(f"{k} {v[k]}" for k in ("tensorflow", "keras", "numpy", "python") if k in v)),
               ("キー", run.get("key", "—"))]
        if run.get("resumed_from_step"):
            out.insert(2, ("再開", f"step {run['resumed_from_step']} のチェックポイントから"))
        if run.get("error"):
            out.insert(1, ("エラー", run["error"]))
        return out

    def config_rows(self) -> list[tuple[str, str]]:
        """The configuration as it ran, flattened (optimizer.generator.lr ...)."""
        cfg = (self.plan.config.as_dict() if self.plan else self.run.get("config")) or {}
        rows: list[tuple[str, str]] = []

        def walk(prefix: str, v) -> None:
            if isinstance(v, dict):
                for k in sorted(v):
                    walk(f"{prefix}.{k}" if prefix else k, v[k])
            elif isinstance(v, (list, tuple)):
                rows.append((prefix, ", ".join(map(str, v)) if v else "—"))
            else:
                rows.append((prefix, str(v).lower() if isinstance(v, bool) else str(v)))
        walk("", cfg)
        return rows

    def summaries(self) -> list[tuple[str, str]]:
        out = []
        for role, label in (("summary_generator", "生成器 (G)"), ("summary_discriminator", "識別器 (D)")):
            p = self.result.file(role) if self.result else None
            if p:
                out.append((label, p.read_text(encoding="utf-8")))
        return out

    # --- sample quality (gan.metrics) ---
    @property
    def quality(self) -> list[dict]:
        return self.result.quality if self.result else []

    @property
    def quality_info(self) -> dict:
        q = self.run.get("quality")
        return q if isinstance(q, dict) else {}

    @property
    def quality_final(self) -> dict | None:
        return self.quality[-1] if self.quality else None

    @property
    def floor(self) -> float:
        return _num(self.quality_final.get("floor")) if self.quality_final else float("nan")

    @property
    def flags(self) -> list[Flag]:
        if not self.result:
            return []
        return [Flag(f["flag"], FLAG_LABELS.get(f["flag"], str(f.get("label") or f["flag"])),
                     FLAG_HELP.get(f["flag"], ""), f.get("step"), str(f.get("message") or ""))
                for f in self.result.flags]

    def quality_score_svg(self) -> Markup:
        steps = [int(r["step"]) for r in self.quality]
        series = [charts.Series("数字スコア", [_num(r.get("digit_score")) for r in self.quality], "score")]
        return Markup(charts.line_chart(steps, series, max_step=self.max_step, y_range=(0.0, 1.0),
                                        title=f"{self.name}: 数字スコア（p ≥ 0.9 で狙いの数字と判定された割合）",
                                        markers=True, kind="quality"))

    def quality_distance_svg(self) -> Markup:
        steps = [int(r["step"]) for r in self.quality]
        dist = [_num(r.get("distance")) for r in self.quality]
        floor = self.floor
        # Early snapshots (noise) sit orders of magnitude above the floor: a log axis shows
        # both ends, where a linear one would flatten the late snapshots or clip the early ones.
        return Markup(charts.line_chart(
            steps, [charts.Series("フレシェ距離", dist, "dist")], max_step=self.max_step,
            markers=True, kind="quality", log_y=True,
            refs=[charts.Reference("本物どうしの距離（下限の目安）", floor, "floor")],
            title=f"{self.name}: 分類器の特徴空間でのフレシェ距離と本物どうしの下限"))

    def quality_facts(self) -> list[tuple[str, str]]:
        q, f = self.quality_info, self.quality_final
        if not q or not f:
            return []
        clf = q.get("classifier") or {}
        out = [("数字スコア", f"{_num(f.get('digit_score')):.3f}"),
               ("距離 / 下限", f"{_num(f.get('distance')):.3g} / {_num(f.get('floor')):.3g}"
                               f" ({_num(f.get('distance')) / _num(f.get('floor')):.1f} 倍)" if _num(f.get('floor')) > 0 else "—"),
               ("カバー率", f"{f.get('coverage', '—')} クラス（本物 {q.get('real_coverage', '—')}）"),
               ("特徴の多様性", f"{_num(f.get('diversity')):.2f}（本物 = 1）"),
               ("サンプル数", f"生成 {q.get('samples', '—')} 枚、距離は {q.get('real_samples', '—')} 枚ずつ"),
               ("分類器", f"held-out 正解率 {_num(clf.get('heldout_accuracy')):.4f}（キー {clf.get('key', '—')}）"),
               ("採点の時間", f"{_num(q.get('seconds')):.1f} 秒")]
        if q.get("first_step_score_95") is not None:
            out.insert(1, ("スコア 0.95 到達", f"step {q['first_step_score_95']}"))
        return out

    def summary_row(self) -> dict:
        """One line of the terminal table printed at the end of a build."""
        f = self.quality_final or {}
        return {"name": self.name, "status": self.status, "steps": self.run.get("steps_done"),
                "wall": _num(self.run.get("wall_seconds")), "score": _num(f.get("digit_score")),
                "distance": _num(f.get("distance")), "floor": _num(f.get("floor")),
                "flags": [x.flag for x in self.flags]}

    # --- charts on the slider's axis ---
    def _chart(self, keys: list[tuple[str, str, str]], title: str, y_range=None) -> Markup:
        steps = [r["step"] for r in self.records]
        series = [charts.Series(label, [r.get(k, float("nan")) for r in self.records], css)
                  for k, label, css in keys]
        return Markup(charts.line_chart(steps, series, max_step=self.max_step, title=title, y_range=y_range))

    def loss_svg(self) -> Markup:
        return self._chart([("d_loss", "D の損失", "d"), ("g_loss", "G の損失", "g")],
                           f"{self.name}: D と G の損失")

    def loss_chart_image(self) -> Img | None:
        """loss_svg() as a standalone SVG in a data: URL, for `![alt](exp:NAME/loss)` in a post:
        an <img> keeps alt, width and height like every other image, needs no file of its own,
        and stays out of the post's summary."""
        if not self.records:
            return None
        w, h = charts.WIDTH, charts.HEIGHT
        svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}">'
               f"<style>{CHART_IMAGE_CSS}</style>{self.loss_svg()}</svg>")
        return Img("data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii"), w, h)

    def acc_svg(self) -> Markup:
        return self._chart([("d_acc", "D の正解率", "d"), ("g_acc", "G の正解率", "g")],
                           f"{self.name}: D と G の正解率", y_range=(0.0, 1.0))

    def slider_inset(self) -> tuple[float, float]:
        return charts.slider_inset()

    def __fingerprint__(self, listing):
        """What a page showing this view depends on (manifest.feed): the view without the whole
        site it points to, and the listings of the posts that link to it."""
        return ([(f.name, getattr(self, f.name)) for f in fields(self) if f.name != "site"],
                [listing(d) for d in self.backlinks()])

    # --- backlinks: read after the Markdown stage, when references are known ---
    def backlinks(self) -> list:
        site = self.site
        if site is None:
            return []
        name = self.name

        def names_in(target: str) -> set[str]:
            import yaml  # fence sources: the names a card or comparison shows
            try:
                data = yaml.safe_load(target)
            except yaml.YAMLError:
                return set()
            if not isinstance(data, dict):
                return set()
            found = set(data.get("experiments") or []) if isinstance(data.get("experiments"), list) else set()
            if isinstance(data.get("name"), str):
                found.add(data["name"])
            return found

        docs = (site.referencing("exp", lambda t: _exp_name(t) == name)
                + site.referencing("experiment-card", lambda t: name in names_in(t))
                + site.referencing("experiment-compare", lambda t: name in names_in(t)))
        seen, out = set(), []
        for d in docs:
            if d is not self.doc and id(d) not in seen:
                seen.add(id(d))
                out.append(d)
        return sorted(out, key=lambda d: (d.date.timestamp() if d.date else 0, d.rel), reverse=True)


def _exp_name(target: str) -> str:
    for sep in ("@", "/", "#"):
        target = target.split(sep, 1)[0]
    return target


def image_size(path: Path) -> tuple[int, int]:
    from .mdrefs import cached_image_size   # one cache of sizes, kept by the manifest
    size = cached_image_size(path)
    if size is None:
        raise OSError(f"cannot read the image {path}")
    return size


def build_view(site, name: str, doc, plan: Plan | None, result: Result | None) -> ExperimentView:
    """Register every result file as a site asset (copied once) and describe it for pages."""
    u = site.urls
    view = ExperimentView(name, doc, plan, result, u.doc(doc), site=site)
    if result is None:
        return view

    def publish(src: Path, rel: str) -> str:
        out = u.path_of("experiment-file", name, file=rel)
        site.assets[out] = src
        return u.href(out)

    for s in result.snapshots:
        w, h = image_size(s.file)
        view.snaps.append(Snap(s.step, Img(publish(s.file, f"samples/{s.file.name}"), w, h)))
    for role, rel in (("loss_chart", "loss.png"), ("animation", "animation.gif")):
        p = result.file(role)
        if p:
            w, h = image_size(p)
            view.files[role] = Img(publish(p, rel if p.suffix == Path(rel).suffix else p.name), w, h)
    p = result.file("losses_csv")
    if p:
        view.files["csv"] = publish(p, f"{name}-losses.csv")
    return view


def summary_table(views) -> str:
    """The experiments at a glance, for the terminal at the end of a build (from run.json only)."""
    def f(v, spec, dash="—"):
        return format(v, spec) if isinstance(v, (int, float)) and math.isfinite(v) else dash

    head = ("experiment", "status", "steps", "wall s", "digit score", "distance (floor)", "flags")
    rows = []
    for v in views:
        r = v.summary_row()
        dist = f"{f(r['distance'], '.3g')} ({f(r['floor'], '.3g')})" if math.isfinite(r["distance"]) else "—"
        rows.append((r["name"], r["status"], f(r["steps"], "d"), f(r["wall"], ".1f"),
                     f(r["score"], ".3f"), dist, ", ".join(r["flags"]) or "—"))
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(head)]
    right = {2, 3, 4}

    def line(cells):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    return "\n".join([line(head), line(["-" * w for w in widths])] + [line(r) for r in rows])
