"""Jinja2's i18n extension wired to the reader's :class:`~geo311.i18n.Localizer`.

:func:`install` adds ``{% trans %}``, ``_()``, ``gettext`` and ``ngettext`` to an environment
(new-style: ``_("%(n)s stops", n=3)``, autoescaped). They translate with the ``i18n``
variable of the render's context (a :class:`~geo311.i18n.Localizer`), so one environment
serves every language; without it the messages stay as written (English).
"""

from __future__ import annotations

from typing import Any

import jinja2
from jinja2.runtime import Context

__all__ = ["install"]


def _catalogue(context: Context) -> Any:
    reader = context.get("i18n")
    return getattr(reader, "catalogue", None)


@jinja2.pass_context
def _gettext(context: Context, message: str) -> str:
    catalogue = _catalogue(context)
    return str(catalogue.gettext(message)) if catalogue is not None else message


@jinja2.pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    catalogue = _catalogue(context)
    if catalogue is None:
        return singular if n == 1 else plural
    return str(catalogue.ngettext(singular, plural, n))


def install(env: jinja2.Environment) -> jinja2.Environment:
    """Give an environment the i18n extension, translating with the context's ``i18n``.

    Parameters
    ----------
    env
        A Jinja2 environment (the staff and citizen pages', the e-mails').

    Returns
    -------
    jinja2.Environment
        The same environment.
    """
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(  # type: ignore[attr-defined]
        _gettext, _ngettext, newstyle=True
    )
    return env
