"""Browse pages that are not a table, row or canned query: `/biomes`, the biome tree with the
number of public studies of each lineage and its descendants, each linking to them (the
`biome_studies` canned query); `/sitemap.xml`. Both read the `public` database only.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import weakref
from html import escape
from typing import Any

from datasette.utils.asgi import Response

from .browse import PUBLIC

SITEMAP_URLS = 50_000  # the sitemap format's limit

# Studies per lineage, its descendants included. "Descendants" is the range on `biomes.path`
# of `catalogue.biomes.descendants_where`: path P and every path in (P + ".", P + "/"). Paths
# hold only [a-z0-9._], so ordering by path lists the tree depth first, parents first.
TREE_SQL = """
with direct as (select biome, count(*) as n from studies group by biome),
counted as (
  select b.lineage, b.biome_name, b.depth, b.path, (
    select coalesce(sum(d.n), 0) from direct d join biomes c on c.lineage = d.biome
    where c.path = b.path or (c.path > b.path || '.' and c.path < b.path || '/')
  ) as studies
  from biomes b
)
select * from counted where studies > 0 or :all order by path
"""


async def biome_tree(db: Any, show_all: bool = False) -> list[dict]:
    """The biomes with public studies (all biomes with `show_all`), parents first."""
    return [dict(r) for r in await db.execute(TREE_SQL, {"all": int(show_all)})]


async def biomes_page(request: Any, datasette: Any) -> Response:
    """`/biomes` (`?all=1`: every biome of the tree, those without studies too)."""
    show_all = request.args.get("all") == "1"
    biomes = await biome_tree(datasette.get_database(PUBLIC), show_all)
    html = await datasette.render_template(
        "biomes.html",
        {
            "biomes": biomes,
            "show_all": show_all,
            "studies_url": datasette.urls.query(PUBLIC, "biome_studies"),
        },
        request=request,
    )
    return Response.html(html)


class Sitemap:
    """`/sitemap.xml`, made once per public.db file and site URL (in place of
    datasette-sitemap's route, which runs its SQL and joins each of ~45,000 paths with the
    request's URL on every request: seconds, and 500s when several overrun the SQL time limit).
    The paths: datasette-sitemap's configured `sql` (metadata), run on the `public` database
    whatever the configured database; the URLs: its `base_url` + path when set, else the
    request's site + path (as datasette-sitemap)."""

    def __init__(self) -> None:
        self.made: dict[tuple, tuple[bytes, bytes, str]] = {}
        self.lock = asyncio.Lock()

    async def __call__(self, request: Any, datasette: Any) -> Response:
        from .plugin import file_generation

        db = datasette.get_database(PUBLIC)
        config = datasette.plugin_config("datasette-sitemap") or {}
        base = config.get("base_url") or datasette.absolute_url(request, "/")[:-1]
        generation = file_generation(db.path) if db.path else None
        key = (generation, base)
        found = self.made.get(key) if generation is not None else None
        if found is None:
            async with self.lock:  # one at a time: the others wait for it
                found = self.made.get(key) if generation is not None else None
                if found is None:
                    body = await self.make(datasette, db, config.get("sql"), base)
                    gz = await asyncio.to_thread(gzip.compress, body, 6, mtime=0)
                    found = (body, gz, hashlib.sha256(body).hexdigest()[:32])
                    if generation is not None and generation == file_generation(db.path):
                        # this file's sitemaps only (a few site URLs at most)
                        made = {k: v for k, v in self.made.items() if k[0] == generation}
                        self.made = dict(list(made.items())[-3:]) | {key: found}
        body, gz, digest = found
        zipped = "gzip" in request.headers.get("accept-encoding", "")
        etag = f'"{digest}-gz"' if zipped else f'"{digest}"'
        headers = {
            "ETag": etag,
            "Cache-Control": f"max-age={datasette.setting('default_cache_ttl')}",
            "Vary": "Accept-Encoding",
        }
        if etag in request.headers.get("if-none-match", ""):
            return Response(b"", 304, headers=headers)
        if zipped:  # 3 MB of XML for 45,000 URLs; ~7% of it gzipped
            headers["Content-Encoding"] = "gzip"
        return Response(
            gz if zipped else body,
            200,
            headers=headers,
            content_type="application/xml; charset=utf-8",
        )

    @staticmethod
    async def make(datasette: Any, db: Any, sql: str | None, base: str) -> bytes:
        from datasette.plugins import pm
        from datasette.utils import await_me_maybe

        paths: list[str] = []
        if hasattr(pm.hook, "sitemap_extra_paths"):  # datasette-sitemap's hook
            for more in pm.hook.sitemap_extra_paths(datasette=datasette, request=None):
                paths.extend(await await_me_maybe(more) or [])
        if sql:
            limit = SITEMAP_URLS - len(paths)
            query = f"select path from ({sql}) limit {max(limit, 0)}"
            paths += await db.execute_fn(lambda conn: [r[0] for r in conn.execute(query)])
        lines = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">',
            *(f"<url><loc>{escape(base + p)}</loc></url>" for p in paths if p.startswith("/")),
            "</urlset>",
        ]
        return "\n".join(lines).encode()


_sitemaps: weakref.WeakKeyDictionary[Any, Sitemap] = weakref.WeakKeyDictionary()


async def sitemap_xml(request: Any, datasette: Any) -> Response:
    """`/sitemap.xml` (one `Sitemap` per Datasette instance)."""
    sitemap = _sitemaps.get(datasette)
    if sitemap is None:
        sitemap = _sitemaps[datasette] = Sitemap()
    return await sitemap(request, datasette)


def routes() -> list:
    """The browse pages' routes (`/sitemap.xml` is answered by the plugin's ASGI wrapper,
    ahead of datasette-sitemap's route)."""
    return [(r"^/biomes$", biomes_page)]
