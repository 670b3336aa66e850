"""Render Open311 documents as XML (the spec's element names; UTF-8 with a declaration)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from xml.etree import ElementTree as ET

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


def _fill(parent: ET.Element, data: Mapping[str, Any]) -> None:
    for key, value in data.items():
        if isinstance(value, Mapping):
            _fill(ET.SubElement(parent, key), value)
        elif isinstance(value, list | tuple):
            container = ET.SubElement(parent, key)
            item_tag = _ITEM_TAGS.get(key, "item")
            for item in value:
                child = ET.SubElement(container, item_tag)
                if isinstance(item, Mapping):
                    _fill(child, item)
                else:
                    child.text = _text(item)
        else:
            ET.SubElement(parent, key).text = _text(value)


def render_list(root: str, items: Sequence[Mapping[str, Any]], *, item: str | None = None) -> bytes:
    """Return ``<root><item>...</item>...</root>`` as UTF-8 bytes with an XML declaration."""
    element = ET.Element(root)
    tag = item or _ITEM_TAGS.get(root, "item")
    for entry in items:
        _fill(ET.SubElement(element, tag), entry)
    return ET.tostring(element, encoding="UTF-8", xml_declaration=True)


def render_object(root: str, data: Mapping[str, Any]) -> bytes:
    """Return ``<root>...fields...</root>`` as UTF-8 bytes with an XML declaration."""
    element = ET.Element(root)
    _fill(element, data)
    return ET.tostring(element, encoding="UTF-8", xml_declaration=True)
