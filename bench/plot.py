#!/usr/bin/python3
"""Draw kvseal throughput against thread count and against chunk size as one
SVG, from a bench/run.sh results JSON. Standard library only.

    /usr/bin/python3 bench/plot.py bench/results/DATE-HOST.json docs/img/throughput.svg
"""
import json
import sys
from xml.sax.saxutils import escape

W, H = 980, 455
PANEL_W, PANEL_H = 400, 300
MARGIN_L, MARGIN_T = 70, 60
GAP = 90

SERIES = [  # (op, mode, label, colour, dashed)
    ("encrypt", "file", "encrypt, file to file", "#1f77b4", False),
    ("decrypt", "file", "decrypt, file to file", "#d62728", False),
    ("encrypt", "pipe", "encrypt, pipe to pipe", "#1f77b4", True),
    ("decrypt", "pipe", "decrypt, pipe to pipe", "#d62728", True),
]
REFS = [  # (key, label, colour)
    ("openssl-speed/t1", "openssl speed, 1 core", "#7f7f7f"),
    ("io/cp", "cp", "#2ca02c"),
    ("io/cat-cat", "cat | cat", "#9467bd"),
    ("age/encrypt", "age encrypt", "#ff7f0e"),
]


def gbps(doc, cid):
    c = doc["cases"].get(cid)
    if c:
        return c["gbps"]
    r = doc["rates_gbps"].get(cid)
    return r["median"] if r else None


def nice_max(v):
    for step in (0.5, 1, 2, 2.5, 5, 10, 20, 50):
        top = step * 5
        if v <= top:
            return top, step
    return v * 1.1, v / 5


class Panel:
    """One chart: categorical x positions, linear y from 0."""

    def __init__(self, x0, title, xlabel, xticks, ymax):
        self.x0, self.y0 = x0, MARGIN_T
        self.title, self.xlabel, self.xticks = title, xlabel, xticks
        self.ymax, self.ystep = nice_max(ymax)
        self.out = []

    def px(self, i):
        n = len(self.xticks)
        return self.x0 + (PANEL_W * (i + 0.5) / n)

    def py(self, v):
        return self.y0 + PANEL_H * (1 - v / self.ymax)

    def axes(self):
        o, x0, y0 = self.out, self.x0, self.y0
        o.append(f'<text x="{x0 + PANEL_W / 2}" y="{y0 - 22}" class="title">{escape(self.title)}</text>')
        v = 0.0
        while v <= self.ymax + 1e-9:
            y = self.py(v)
            o.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + PANEL_W}" y2="{y:.1f}" class="grid"/>')
            o.append(f'<text x="{x0 - 8}" y="{y + 4:.1f}" class="ytick">{v:g}</text>')
            v += self.ystep
        o.append(f'<rect x="{x0}" y="{y0}" width="{PANEL_W}" height="{PANEL_H}" class="frame"/>')
        for i, t in enumerate(self.xticks):
            o.append(f'<text x="{self.px(i):.1f}" y="{y0 + PANEL_H + 18}" class="xtick">{escape(str(t))}</text>')
        o.append(f'<text x="{x0 + PANEL_W / 2}" y="{y0 + PANEL_H + 40}" class="label">{escape(self.xlabel)}</text>')
        o.append(f'<text transform="translate({x0 - 48},{y0 + PANEL_H / 2}) rotate(-90)" class="label">GB/s</text>')

    def hline(self, v, colour, label):
        if v is None or v > self.ymax:
            return
        y = self.py(v)
        self.out.append(f'<line x1="{self.x0}" y1="{y:.1f}" x2="{self.x0 + PANEL_W}" y2="{y:.1f}" '
                        f'stroke="{colour}" stroke-dasharray="2,3" stroke-width="1.5"/>')
        self.out.append(f'<text x="{self.x0 + PANEL_W - 4}" y="{y - 4:.1f}" class="ref" fill="{colour}">'
                        f'{escape(label)} {v:.2f}</text>')

    def series(self, values, colour, dashed):
        pts = [(self.px(i), self.py(v)) for i, v in enumerate(values) if v is not None]
        if not pts:
            return
        dash = ' stroke-dasharray="7,4"' if dashed else ""
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        self.out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2.2"{dash}/>')
        for x, y in pts:
            self.out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"/>')


def legend(x, y):
    """The series keys in a 2 x 2 grid below the charts."""
    out = []
    for i, (_, _, label, colour, dashed) in enumerate(SERIES):
        xx, yy = x + (i % 2) * 260, y + (i // 2) * 18
        dash = ' stroke-dasharray="7,4"' if dashed else ""
        out.append(f'<line x1="{xx}" y1="{yy}" x2="{xx + 28}" y2="{yy}" stroke="{colour}" stroke-width="2.2"{dash}/>')
        out.append(f'<text x="{xx + 34}" y="{yy + 4}" class="legend">{escape(label)}</text>')
    return out


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        doc = json.load(f)
    meta = doc["meta"]
    threads, chunks, nt = meta["threads"], meta["chunks"], meta["max_threads"]

    by_threads = {(op, mode): [gbps(doc, f"kvseal/{op}/{mode}/t{t}/c1M") for t in threads]
                  for op, mode, *_ in SERIES}
    by_chunk = {(op, mode): [gbps(doc, f"kvseal/{op}/{mode}/t{nt}/c{c}") for c in chunks]
                for op, mode, *_ in SERIES}
    refs = {k: gbps(doc, k) for k, _, _ in REFS}
    top = max([v for vs in list(by_threads.values()) + list(by_chunk.values()) for v in vs if v]
              + [v for v in refs.values() if v] + [0.1])

    size_mib = meta["size_bytes"] // 1048576
    left = Panel(MARGIN_L, "Throughput vs threads (1 MiB chunks)", "worker threads", threads, top)
    right = Panel(MARGIN_L + PANEL_W + GAP, f"Throughput vs chunk size ({nt} threads)", "chunk size",
                  chunks, top)
    for p, data in ((left, by_threads), (right, by_chunk)):
        p.axes()
        for k, label, colour in REFS:
            p.hline(refs[k], colour, label)
        for op, mode, _, colour, dashed in SERIES:
            p.series(data[(op, mode)], colour, dashed)

    version = " ".join(meta["versions"].get("kvseal", "kvseal").split()[:2])
    title = (f"{escape(version)} on "
             f"{escape(meta['versions'].get('cpu', ''))}: {size_mib} MiB, median of {meta['runs']} runs "
             f"({escape(meta['date'])})")
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
           'font-family="DejaVu Sans, Arial, sans-serif">',
           "<style>.title{font-size:14px;text-anchor:middle;font-weight:bold}"
           ".label{font-size:12px;text-anchor:middle}.xtick{font-size:11px;text-anchor:middle}"
           ".ytick{font-size:11px;text-anchor:end}.ref{font-size:10px;text-anchor:end}"
           ".legend{font-size:11px}.grid{stroke:#e4e4e4}.frame{fill:none;stroke:#444}"
           ".head{font-size:12px;text-anchor:middle;fill:#333}</style>",
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="18" class="head">{title}</text>']
    svg += left.out + right.out
    svg += legend(MARGIN_L + 20, MARGIN_T + PANEL_H + 58)
    svg.append("</svg>")
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        f.write("\n".join(svg) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
