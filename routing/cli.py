"""Commands and demo steps that the routing package adds to the geo311 CLI."""

from __future__ import annotations

from typing import Any

import typer


def register(app: typer.Typer) -> None:
    """Add this package's commands to the geo311 CLI."""

    @app.command("graph")
    def graph_command(
        source: str | None = typer.Argument(
            None, help="OSM XML (.osm/.osm.bz2), .osm.pbf or .graphml (default: embedded)"
        ),
        place: str | None = typer.Option(
            None, help="osmnx place query instead of a file (needs a network)"
        ),
        cache_dir: str | None = typer.Option(None, help="folder for the GraphML cache"),
        hour: int | None = typer.Option(None, help="congestion hour 0..23 (default free flow)"),
    ) -> None:
        """Load a street graph and print its summary (nodes, edges, one-ways, dropped nodes)."""
        from routing.graph import load_street_graph

        if place:
            graph = load_street_graph(
                place, kind="place", cache_dir=cache_dir, congestion_hour=hour
            )
        else:
            graph = load_street_graph(source, cache_dir=cache_dir, congestion_hour=hour)
        for line in graph.summary.lines():
            typer.echo(line)


def demo_step(ctx: Any) -> None:
    """Run this package's part of ``geo311 demo``."""
