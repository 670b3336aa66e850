"""Which of the offered languages a reader gets: asked for, remembered, or the browser's."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["negotiate", "parse_accept_language"]


def parse_accept_language(header: str) -> list[str]:
    """Return the language tags of an ``Accept-Language`` header, most wanted first.

    Parameters
    ----------
    header
        E.g. ``"es-US,es;q=0.9,en;q=0.5"``; malformed parts are skipped.

    Returns
    -------
    list of str
        Lower-case tags with ``q > 0``, by falling ``q`` (ties keep their order).
    """
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if tag.strip() and quality > 0:
            ranked.append((-quality, index, tag.strip().lower().replace("_", "-")))
    return [tag for _q, _i, tag in sorted(ranked)]


def negotiate(offered: Sequence[str], *wanted: str | None, default: str) -> str:
    """Return the first wanted language that is offered, else ``default``.

    Parameters
    ----------
    offered
        The city's languages (``["en", "es"]``).
    *wanted
        Candidates in order of precedence: a ``?lang=`` value, a cookie, then the tags of
        ``Accept-Language``; a region (``es-MX``) matches its language; None is skipped.
    default
        The city's own language.

    Returns
    -------
    str
        One of ``offered`` (or ``default``).
    """
    for tag in wanted:
        if not tag:
            continue
        language = tag.strip().lower().replace("_", "-").split("-")[0]
        if language in offered:
            return language
    return default
