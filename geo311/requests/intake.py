"""What the public may send: text without control characters, checked once at intake.

A C0 control character other than tab, line feed and carriage return has no place in a
citizen's report: XML 1.0 cannot carry it (one stored vertical tab would break every XML
answer holding it) and PostgreSQL refuses NUL in text. :func:`check_text` rejects such a
value with an :class:`~geo311.errors.InputError` naming the field, so the client can fix it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from geo311.errors import InputError

__all__ = ["CONTROL_CHARACTERS", "check_text", "check_texts", "find_control"]

CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
"""C0 controls except tab, line feed and carriage return (NUL included)."""


def find_control(text: str) -> int:
    """Return the position of the first forbidden control character in ``text``, or -1."""
    found = CONTROL_CHARACTERS.search(text)
    return -1 if found is None else found.start()


def check_text(field: str, value: str | None) -> str | None:
    """Return ``value`` unchanged, or raise naming ``field`` when it holds a control character.

    Parameters
    ----------
    field
        The name the client used (form field, query parameter, header, ``path``).
    value
        The text received (None passes).

    Returns
    -------
    str or None
        ``value``.

    Raises
    ------
    InputError
        When ``value`` holds a C0 control character other than tab, LF or CR.
    """
    if value is None:
        return None
    at = find_control(value)
    if at >= 0:
        raise InputError(
            f"{field}: contains the control character U+{ord(value[at]):04X} at position "
            f"{at + 1}; remove it (only tab and line breaks are allowed)",
            field=field,
        )
    return value


def check_texts(values: Iterable[tuple[str, str]]) -> None:
    """Check ``(field, value)`` pairs (e.g. a form's fields) with :func:`check_text`.

    The field names themselves are checked too (a name is text the client chose).

    Raises
    ------
    InputError
        For the first field whose name or value holds a forbidden control character.
    """
    for field, value in values:
        check_text("field name", field)
        check_text(field, value)
