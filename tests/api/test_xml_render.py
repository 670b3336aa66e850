"""The XML writer gives the bytes ElementTree gives for the same documents.

The reference below is the ElementTree writer the API used before (``api.open311.xml`` now writes
the text straight, several times faster); random documents and the real request lists must
come out byte for byte the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from xml.etree import ElementTree as ET

from hypothesis import given, settings
from hypothesis import strategies as st

from api.open311 import xml as _xml


def _xml_char(c: str) -> bool:
    """The Char production of XML 1.0."""
    n = ord(c)
    return c in "\t\n\r" or 0x20 <= n <= 0xD7FF or 0xE000 <= n <= 0xFFFD or n >= 0x10000


def _ref_text(value: Any) -> str:
    # what the writer must say: the value's text without the characters XML cannot carry
    return "".join(c for c in _xml._text(value) if _xml_char(c))


def _ref_fill(parent: ET.Element, data: Mapping[str, Any]) -> None:
    for key, value in data.items():
        if isinstance(value, Mapping):
            _ref_fill(ET.SubElement(parent, key), value)
        elif isinstance(value, list | tuple):
            container = ET.SubElement(parent, key)
            item_tag = _xml._ITEM_TAGS.get(key, "item")
            for item in value:
                child = ET.SubElement(container, item_tag)
                if isinstance(item, Mapping):
                    _ref_fill(child, item)
                else:
                    child.text = _ref_text(item)
        else:
            ET.SubElement(parent, key).text = _ref_text(value)


def ref_list(root: str, items: Sequence[Mapping[str, Any]]) -> bytes:
    element = ET.Element(root)
    for entry in items:
        _ref_fill(ET.SubElement(element, _xml._ITEM_TAGS.get(root, "item")), entry)
    return ET.tostring(element, encoding="UTF-8", xml_declaration=True)


def ref_object(root: str, data: Mapping[str, Any]) -> bytes:
    element = ET.Element(root)
    _ref_fill(element, data)
    return ET.tostring(element, encoding="UTF-8", xml_declaration=True)


TAGS = st.sampled_from(
    ["status", "lat", "attributes", "values", "service_requests", "errors", "key", "x_1"]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
    st.sampled_from(
        [
            "",
            "a & b",
            "<tag>",
            "x > y",
            "café ☕",
            "\t\n\r",
            "&amp;",
            "\x0b",
            "a\x00b",
            "\ufffe\ud800",
        ]
    ),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(TAGS, inner, max_size=3),
    ),
    max_leaves=12,
)
DOCS = st.dictionaries(TAGS, VALUES, max_size=5)


@settings(max_examples=400, deadline=None)
@given(st.lists(DOCS, max_size=4), DOCS)
def test_lists_and_objects_are_written_as_elementtree_writes_them(
    items: list[dict[str, Any]], doc: dict[str, Any]
) -> None:
    for root in ("service_requests", "services", "errors", "whatever"):
        written = _xml.render_list(root, items)
        assert written == ref_list(root, items)
        ET.fromstring(written)  # well-formed, whatever the text held
    assert _xml.render_object("discovery", doc) == ref_object("discovery", doc)


def test_a_request_list_with_every_kind_of_field() -> None:
    items = [
        {
            "service_request_id": "G1",
            "status": "open",
            "status_notes": None,
            "description": 'Pothole "deep" <30cm> & growing — café',
            "lat": 42.3505,
            "long": -71.081,
            "metadata": True,
            "address_id": None,
            "media_url": "http://example.org/p.jpg?a=1&b=2",
        },
        {},
    ]
    assert _xml.render_list("service_requests", items) == ref_list("service_requests", items)
    assert _xml.render_list("service_requests", []) == ref_list("service_requests", [])
