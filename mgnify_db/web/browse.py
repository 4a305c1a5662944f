"""The browse pages' data: links from records to MGnify's API and to their downloads, the
home page's counts, and an analysis page's annotation chart, QC summary and downloads.

Everything here reads the `public` database only (public, current records): the pages it
feeds are open to everyone. The chart is SVG made here, so the page needs no JavaScript and
no network.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from markupsafe import Markup

PUBLIC = "public"
API = "/metagenomics/api/v2"
API_DOCS = f"{API}/docs"
# Tables whose rows are MGnify API resources (the API's collection has the table's name) ...
RECORD_TABLES = ("studies", "samples", "runs", "assemblies", "analyses")
# ... and the columns of other tables naming one of them.
REFERENCE_COLUMNS = {
    "study": "studies",
    "sample": "samples",
    "run": "runs",
    "assembly": "assemblies",
    "analysis": "analyses",
}
# Downloads filter: a column of `downloads` where there is one, else the canned query.
DOWNLOAD_COLUMNS = {"studies": "study", "assemblies": "assembly", "analyses": "analysis"}
CHART_BARS = 20  # terms charted per annotation type, the most counted first
TAXONOMY_PREFIX = "taxonomies"


def api_url(table: str, accession: str, *tail: str) -> str:
    """MGnify API v2 JSON of a record: `/metagenomics/api/v2/studies/MGYS00000001`."""
    return "/".join((API, table, accession, *tail))


def downloads_url(datasette: Any, table: str, accession: str) -> str:
    """The public downloads of a record: the downloads table filtered on its column, or (for
    samples and runs, which downloads do not name) the `downloads_for` canned query."""
    column = DOWNLOAD_COLUMNS.get(table)
    if column:
        return f"{datasette.urls.table(PUBLIC, 'downloads')}?{column}={accession}"
    return f"{datasette.urls.query(PUBLIC, 'downloads_for')}?accession={accession}"


def record_links(datasette: Any, table: str, accession: str) -> list[dict]:
    """The links shown on a record's page: its API JSON and its downloads."""
    links = [{"label": "API JSON", "href": api_url(table, accession), "rel": "api"}]
    if table == "analyses":
        links.append(
            {
                "label": "Annotations (API JSON)",
                "href": api_url(table, accession, "annotations"),
                "rel": "api-annotations",
            }
        )
    links.append(
        {
            "label": "Downloads",
            "href": downloads_url(datasette, table, accession),
            "rel": "downloads",
        }
    )
    return links


def reference_cell(datasette: Any, table: str, value: str) -> Markup:
    """A record's accession linked to its row page, followed by a small link to its API JSON."""
    row = datasette.urls.row(PUBLIC, table, value)
    return Markup(
        f'<a href="{escape(row)}">{escape(value)}</a> '
        f'<a class="mgnify-api" href="{escape(api_url(table, value))}"'
        f' title="{escape(value)} in the MGnify API (JSON)">API</a>'
    )


def link_cell(url: str) -> Markup:
    """A site path (a download's url) as a link."""
    return Markup(f'<a href="{escape(url)}">{escape(url)}</a>')


async def home_counts(db: Any) -> dict[str, int]:
    """Public studies, samples and ready analyses (the indexed `is_ready` keeps it cheap)."""
    sql = (
        "select (select count(*) from studies) as studies,"
        " (select count(*) from samples) as samples,"
        " (select count(*) from analyses where is_ready = 1) as analyses"
    )
    row = (await db.execute(sql)).first()
    return dict(row) if row else {}


async def chart_types(db: Any, accession: str) -> list[str]:
    """An analysis' annotation types to chart: its taxonomy types when it has any, else all."""
    rows = await db.execute(
        "select distinct type from annotations where analysis = ? order by type", [accession]
    )
    types = [r["type"] for r in rows]
    taxonomies = [t for t in types if t.startswith(TAXONOMY_PREFIX)]
    return taxonomies or types


async def annotation_charts(db: Any, accession: str) -> list[dict]:
    """One bar chart (SVG) per charted type of an analysis: its `CHART_BARS` top terms."""
    charts = []
    for type_ in await chart_types(db, accession):
        rows = await db.execute(
            "select term, description, organism, count from annotations"
            " where analysis = ? and type = ? order by count desc, term limit ?",
            [accession, type_, CHART_BARS],
        )
        total = (
            await db.execute(
                "select count(*) as n from annotations where analysis = ? and type = ?",
                [accession, type_],
            )
        ).first()["n"]
        bars = [(term_label(r), r["count"] or 0) for r in rows]
        charts.append(
            {"type": type_, "terms": total, "shown": len(bars), "svg": bar_chart_svg(bars, type_)}
        )
    return charts


def term_label(row: Any) -> str:
    """How a term is named on a chart: its organism (taxonomies), else its description."""
    name = row["organism"] or row["description"]
    return f"{name} ({row['term']})" if name and name != row["term"] else row["term"]


def bar_chart_svg(bars: list[tuple[str, int]], title: str) -> Markup:
    """A horizontal bar chart: one `rect.bar` per (label, count), longest bar = full width."""
    label_width, bar_width, bar_height, gap = 300, 360, 18, 4
    width = label_width + bar_width + 70
    height = len(bars) * (bar_height + gap) + gap
    top = max((count for _, count in bars), default=0) or 1
    parts = [
        f'<svg class="mgnify-chart" xmlns="http://www.w3.org/2000/svg" width="{width}"'
        f' height="{height}" viewBox="0 0 {width} {height}" role="img"'
        f' aria-label="{escape(title)}: annotation counts" font-size="12"'
        ' font-family="sans-serif">'
    ]
    for i, (label, count) in enumerate(bars):
        y = gap + i * (bar_height + gap)
        length = max(1, round(bar_width * count / top))
        short = label if len(label) <= 45 else label[:44] + "…"
        middle = y + bar_height / 2
        parts.append(
            f"<g><title>{escape(label)}: {count:,}</title>"
            f'<text x="{label_width - 6}" y="{middle}" text-anchor="end"'
            f' dominant-baseline="middle">{escape(short)}</text>'
            f'<rect class="bar" x="{label_width}" y="{y}" width="{length}"'
            f' height="{bar_height}" fill="#4c78a8"/>'
            f'<text x="{label_width + length + 4}" y="{middle}"'
            f' dominant-baseline="middle">{count:,}</text></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


# (label, key in fastp's before/after_filtering) of the QC summary's rows.
QC_METRICS = (
    ("Reads", "total_reads"),
    ("Bases", "total_bases"),
    ("Q30 rate", "q30_rate"),
    ("GC content", "gc_content"),
)


def qc_summary(quality_control: str | None) -> dict | None:
    """`analyses.quality_control` (fastp's summary, JSON) as rows for a small table: metric,
    before and after filtering; plus the tool, the outcome and the filtered fraction."""
    if not quality_control:
        return None
    try:
        qc = json.loads(quality_control)
    except ValueError:
        return None
    before, after = qc.get("before_filtering") or {}, qc.get("after_filtering") or {}
    rows = [
        (label, fmt(before.get(key)), fmt(after.get(key)))
        for label, key in QC_METRICS
        if key in before or key in after
    ]
    tool = " ".join(str(qc[k]) for k in ("tool", "tool_version") if qc.get(k))
    return {
        "rows": rows,
        "tool": tool,
        "passed": qc.get("passed"),
        "reason": qc.get("reason"),
        "filtered_fraction": fmt(qc.get("filtered_fraction")),
        "duplication_rate": fmt(qc.get("duplication_rate")),
    }


def fmt(value: Any) -> str:
    """A QC number for people: integers with separators, fractions to 4 places."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:.4g}"


async def analysis_downloads(db: Any, accession: str) -> list[dict]:
    """The analysis' public files (indexed on `downloads.analysis`)."""
    rows = await db.execute(
        "select alias, url, file_type, download_group, short_description, size_bytes"
        " from downloads where analysis = ? order by download_group, alias",
        [accession],
    )
    return [dict(r) for r in rows]


async def analysis_page(db: Any, accession: str) -> dict:
    """Template variables of a public analysis' page."""
    row = (
        await db.execute("select quality_control from analyses where accession = ?", [accession])
    ).first()
    return {
        "annotation_charts": await annotation_charts(db, accession),
        "qc_summary": qc_summary(row["quality_control"]) if row else None,
        "analysis_downloads": await analysis_downloads(db, accession),
    }
