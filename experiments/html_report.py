"""The report as one self-contained HTML page: the results table and every figure embedded as
a data URI, so the file opens offline in any browser and can be mailed or archived alone.

Once the page has loaded, ``<body data-figures-loaded="N">`` holds how many figures the
browser decoded (a headless browser check reads it from the DOM).
"""

from __future__ import annotations

import base64
import html
import os

from experiments.report import cost_text
from experiments.tasks import METRICS

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; font-size: 13px; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
th { background: #f0f0f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.quantum td:first-child { border-left: 4px solid #9467bd; }
tr.analog td:first-child { border-left: 4px solid #ff7f0e; }
tr.classical td:first-child { border-left: 4px solid #1f77b4; }
figure { margin: 2em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 13px; color: #555; }
"""

_SCRIPT = """
window.addEventListener("load", function () {
  var ok = Array.prototype.filter.call(document.images, function (i) {
    return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute("data-figures-loaded", String(ok));
});
"""


def _table(rows: list) -> str:
    head = ["task", "model", "family", "backend", "metric", "mean ± std", "seeds", "params",
            "epochs", "s/epoch", "hardware cost"]
    out = ["<table>", "<tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"]
    for r in rows:
        arrow = "↑" if METRICS[r.metric] else "↓"
        cells = [(r.task, ""), (r.label, ""), (r.family, ""), (r.backend, ""),
                 (f"{r.metric} {arrow}", ""), (r.cell, "num"), (str(r.seeds), "num"),
                 (str(r.params), "num"), (f"{r.epochs:g}", "num"),
                 (f"{r.seconds_per_epoch:.3f}", "num"), (cost_text(r.cost), "")]
        out.append(f'<tr class="{html.escape(r.family)}">' + "".join(
            f'<td class="{cls}">{html.escape(text)}</td>' for text, cls in cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def write_html(path: str, title: str, intro: str, rows: list, figures: list,
               figure_dir: str) -> None:
    """Write the page to ``path``; ``figures`` are :class:`experiments.plots.Figure` whose
    PNG files lie in ``figure_dir``."""
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{html.escape(title)}</title><style>{_STYLE}</style>",
             f"<script>{_SCRIPT}</script></head><body>",
             f"<h1>{html.escape(title)}</h1>", f"<p>{html.escape(intro)}</p>", _table(rows)]
    for fig in figures:
        with open(os.path.join(figure_dir, fig.file), "rb") as fh:
            data = base64.b64encode(fh.read()).decode("ascii")
        parts += [f"<h2>{html.escape(fig.title)}</h2>", "<figure>",
                  f'<img alt="{html.escape(fig.title)}" src="data:image/png;base64,{data}">',
                  f"<figcaption>{html.escape(fig.caption)}</figcaption>", "</figure>"]
    parts.append("</body></html>")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(parts))
