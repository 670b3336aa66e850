"""Render Open311 documents as XML (the spec's element names; UTF-8 with a declaration)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

# Characters XML 1.0 does not allow (Char production): C0 controls except tab, LF and CR,
# lone surrogates, U+FFFE and U+FFFF. The writer leaves them out, even of stored text.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_has_not_xml = NOT_XML.search

# List fields and the element name of one item.
_ITEM_TAGS = {
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "services": "service",
    "service_requests": "request",
    "service_request_updates": "request_update",
    "errors": "error",
}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _escape(text: str) -> str:
    # ElementTree's character data escaping: only &, < and > (no attributes are written).
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def _element(out: list[str], tag: str, value: Any) -> None:
    """Append ``<tag>...</tag>`` for a field: nested for a mapping or list, else its text."""
    if isinstance(value, Mapping):
        _fields(out, tag, value)
    elif isinstance(value, list | tuple):
        if not value:
            out.append(f"<{tag} />")
            return
        out.append(f"<{tag}>")
        item_tag = _ITEM_TAGS.get(tag, "item")
        for item in value:
            if isinstance(item, Mapping):
                _fields(out, item_tag, item)
            else:
                _leaf(out, item_tag, item)
        out.append(f"</{tag}>")
    else:
        _leaf(out, tag, value)


def _leaf(out: list[str], tag: str, value: Any) -> None:
    text = _text(value)
    if _has_not_xml(text) is not None:  # e.g. a control character stored before intake checks
        text = NOT_XML.sub("", text)
    out.append(f"<{tag}>{_escape(text)}</{tag}>" if text else f"<{tag} />")


def _fields(out: list[str], tag: str, data: Mapping[str, Any]) -> None:
    if not data:
        out.append(f"<{tag} />")
        return
    out.append(f"<{tag}>")
    for key, value in data.items():
        _element(out, key, value)
    out.append(f"</{tag}>")


def _document(out: list[str]) -> bytes:
    # As ElementTree.tostring(encoding="UTF-8", xml_declaration=True) writes it (the leaves
    # hold no character XML 1.0 forbids, so every character encodes).
    return ("<?xml version='1.0' encoding='UTF-8'?>\n" + "".join(out)).encode("utf-8")


def render_list(root: str, items: Sequence[Mapping[str, Any]], *, item: str | None = None) -> bytes:
    """Return ``<root><item>...</item>...</root>`` as UTF-8 bytes with an XML declaration.

    The bytes ElementTree writes for the same tree (short empty elements, ``&``, ``<`` and
    ``>`` escaped), written straight as text: 1,000 requests in a few milliseconds.
    """
    if not items:
        return _document([f"<{root} />"])
    tag = item or _ITEM_TAGS.get(root, "item")
    out = [f"<{root}>"]
    for entry in items:
        _fields(out, tag, entry)
    out.append(f"</{root}>")
    return _document(out)


def render_object(root: str, data: Mapping[str, Any]) -> bytes:
    """Return ``<root>...fields...</root>`` as UTF-8 bytes with an XML declaration."""
    out: list[str] = []
    _fields(out, root, data)
    return _document(out)
