"""Browse pages that are not a table, row or canned query: `/biomes`, the biome tree with the
number of public studies of each lineage and its descendants, each linking to them (the
`biome_studies` canned query). Reads the `public` database only.
"""

from __future__ import annotations

from typing import Any

from datasette.utils.asgi import Response

from .browse import PUBLIC

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


def routes() -> list:
    return [(r"^/biomes$", biomes_page)]
