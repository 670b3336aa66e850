"""Address parsing and street-name normalisation for the offline geocoder.

A fast regex path handles the City of Boston's common forms
(``145-151 Ipswich St  Boston  MA  02215``, ``INTERSECTION of A & B  Boston  MA``); anything
else goes to ``usaddress``. Street names are normalised to an upper-case, spelled-out key
(``W Newton St`` -> ``WEST NEWTON STREET``, ``Mass Ave`` -> ``MASSACHUSETTS AVENUE``) that is
compared with the same key of the OSM names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

# Street suffixes (USPS abbreviations and common variants) -> spelled-out form.
SUFFIXES: dict[str, str] = {
    "ST": "STREET",
    "STR": "STREET",
    "STREET": "STREET",
    "AVE": "AVENUE",
    "AV": "AVENUE",
    "AVEN": "AVENUE",
    "AVENUE": "AVENUE",
    "RD": "ROAD",
    "ROAD": "ROAD",
    "DR": "DRIVE",
    "DRV": "DRIVE",
    "DRIVE": "DRIVE",
    "PL": "PLACE",
    "PLACE": "PLACE",
    "SQ": "SQUARE",
    "SQUARE": "SQUARE",
    "TER": "TERRACE",
    "TERR": "TERRACE",
    "TERRACE": "TERRACE",
    "PK": "PARK",
    "PRK": "PARK",
    "PARK": "PARK",
    "PKWY": "PARKWAY",
    "PKY": "PARKWAY",
    "PWY": "PARKWAY",
    "PARKWAY": "PARKWAY",
    "BLVD": "BOULEVARD",
    "BOUL": "BOULEVARD",
    "BOULEVARD": "BOULEVARD",
    "HWY": "HIGHWAY",
    "HIGHWAY": "HIGHWAY",
    "CT": "COURT",
    "COURT": "COURT",
    "LN": "LANE",
    "LANE": "LANE",
    "WAY": "WAY",
    "WY": "WAY",
    "ALY": "ALLEY",
    "ALLEY": "ALLEY",
    "CIR": "CIRCLE",
    "CIRCLE": "CIRCLE",
    "BR": "BRIDGE",
    "BRG": "BRIDGE",
    "BRIDGE": "BRIDGE",
    "ROW": "ROW",
    "WHARF": "WHARF",
    "WHF": "WHARF",
    "PLZ": "PLAZA",
    "PLAZA": "PLAZA",
    "EXT": "EXTENSION",
    "EXTENSION": "EXTENSION",
    "TPKE": "TURNPIKE",
    "TURNPIKE": "TURNPIKE",
}
DIRECTIONS: dict[str, str] = {
    "N": "NORTH",
    "S": "SOUTH",
    "E": "EAST",
    "W": "WEST",
    "NORTH": "NORTH",
    "SOUTH": "SOUTH",
    "EAST": "EAST",
    "WEST": "WEST",
}
# Whole-name aliases, applied to the normalised key.
ALIASES: dict[str, str] = {
    "MASS AVENUE": "MASSACHUSETTS AVENUE",
    "MASS AVE": "MASSACHUSETTS AVENUE",
    "THE FENWAY": "FENWAY",
    "JAMES J STORROW MEMORIAL DRIVE": "STORROW DRIVE",
}
STATES = {"MA", "MASS", "MASSACHUSETTS"}

_PUNCT = re.compile(r"[.,'’`]")
_SPACES = re.compile(r"\s+")
_ZIP_TAIL = re.compile(r"[\s,]+(\d{4,5})(?:-\d{4})?\s*$")
_STATE_TAIL = re.compile(r"[\s,]+(MA|MASS|MASSACHUSETTS)\s*$", re.IGNORECASE)
_NUMBER_HEAD = re.compile(r"^\s*#?(\d+)[A-Za-z]?(?:\s*-\s*(\d+)[A-Za-z]?)?[\s,]+(.*)$")
_INTERSECTION = re.compile(
    r"^\s*INTERSECTION\s+(?:OF\s+)?(.+?)\s+(?:&|AND|@|/)\s+(.+)$", re.IGNORECASE
)
_SIMPLE_INTERSECTION = re.compile(r"^\s*([^&@/]+?)\s+(?:&|@|/|AND)\s+([^&@/]+)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ParsedAddress:
    """An address split into the parts the geocoder uses.

    Attributes
    ----------
    kind : str
        ``address`` (house number and street), ``street`` (street only), ``intersection``
        or ``unparsed``.
    street : str
        Street name as written (first street of an intersection).
    street2 : str
        Second street of an intersection, else ``""``.
    number_low, number_high : int or None
        House number, or both ends of a range (``145-151``); equal for a single number.
    city, zipcode : str
        City and five-digit ZIP (leading zero restored), ``""`` when absent.
    """

    kind: str
    street: str = ""
    street2: str = ""
    number_low: int | None = None
    number_high: int | None = None
    city: str = ""
    zipcode: str = ""


def normalise_zip(text: str) -> str:
    """Return a five-digit ZIP (``2215`` and ``2215.0`` -> ``02215``), or ``""``."""
    text = text.strip().split(".")[0].split("-")[0]
    if not text.isdigit() or not 3 <= len(text) <= 5:
        return ""
    return text.zfill(5)


@lru_cache(maxsize=65536)
def street_key(name: str) -> str:
    """Return the normalised key of a street name (upper case, suffixes spelled out).

    ``St`` is ``SAINT`` as a first word and ``STREET`` elsewhere; ``Mt`` is ``MOUNT``.
    """
    text = _SPACES.sub(" ", _PUNCT.sub("", name.upper().replace("-", " "))).strip()
    words = text.split(" ")
    if not words or words == [""]:
        return ""
    out: list[str] = []
    last = len(words) - 1
    for i, word in enumerate(words):
        if i == 0 and last > 0 and word in ("ST", "STE"):
            out.append("SAINT")
        elif word == "MT":
            out.append("MOUNT")
        elif word in DIRECTIONS and (i == 0 or i == last) and last > 0:
            out.append(DIRECTIONS[word])
        elif word in SUFFIXES and i > 0:
            out.append(SUFFIXES[word])
        else:
            out.append(word)
    key = " ".join(out)
    for alias, target in ALIASES.items():
        if key == alias or key.startswith(alias + " "):
            key = target + key[len(alias) :]
    return key


def split_suffix(key: str) -> tuple[str, str]:
    """Split a street key into its base name and spelled-out suffix (``""`` when none)."""
    words = key.split(" ")
    suffixes = set(SUFFIXES.values())
    # "CHARLES STREET SOUTH": the suffix may sit before a trailing direction.
    if len(words) >= 3 and words[-1] in DIRECTIONS.values() and words[-2] in suffixes:
        return " ".join(words[:-2] + words[-1:]), words[-2]
    if len(words) >= 2 and words[-1] in suffixes:
        return " ".join(words[:-1]), words[-1]
    return key, ""


def _strip_place(text: str) -> tuple[str, str, str]:
    """Split ``Ipswich St  Boston  MA  02215`` into (street, city, zip)."""
    zipcode = ""
    m = _ZIP_TAIL.search(text)
    if m:
        zipcode = normalise_zip(m.group(1))
        text = text[: m.start()]
    m = _STATE_TAIL.search(text)
    if m:
        text = text[: m.start()]
    text = text.strip().rstrip(",")
    if "," in text:
        street, _, city = text.partition(",")
        return street.strip(), city.strip(), zipcode
    parts = re.split(r"\s{2,}", text)
    if len(parts) >= 2:
        return parts[0].strip(), " ".join(parts[1:]).strip(), zipcode
    # Single spaces: the street ends at its last suffix word (or a direction after it).
    words = text.split()
    cut = -1
    for i, word in enumerate(words):
        if i > 0 and word.upper().rstrip(".") in SUFFIXES:
            cut = i
    if cut >= 0:
        if cut + 1 < len(words) and words[cut + 1].upper() in DIRECTIONS and cut + 2 < len(words):
            cut += 1
        return " ".join(words[: cut + 1]), " ".join(words[cut + 1 :]), zipcode
    if zipcode or m:
        # "Fenway Boston MA": without a suffix the city cannot be told apart reliably.
        return "", "", zipcode
    return text, "", zipcode


def _fast_parse(text: str) -> ParsedAddress | None:
    m = _INTERSECTION.match(text)
    if m:
        first = m.group(1).strip()
        second, city, zipcode = _strip_place(m.group(2))
        if first and second:
            return ParsedAddress("intersection", first, second, city=city, zipcode=zipcode)
        return None
    m = _NUMBER_HEAD.match(text)
    if m:
        street, city, zipcode = _strip_place(m.group(3))
        if not street:
            return None
        low = int(m.group(1))
        high = int(m.group(2)) if m.group(2) else low
        if high < low:
            high = low
        return ParsedAddress("address", street, "", low, high, city, zipcode)
    return None


def _usaddress_parse(text: str) -> ParsedAddress:
    import usaddress

    try:
        tags, kind = usaddress.tag(text)
    except usaddress.RepeatedLabelError:
        return ParsedAddress("unparsed")
    zipcode = normalise_zip(tags.get("ZipCode", ""))
    city = tags.get("PlaceName", "")

    def street_of(prefix: str) -> str:
        parts = [
            tags.get(f"{prefix}StreetNamePreDirectional", ""),
            tags.get(f"{prefix}StreetNamePreType", ""),
            tags.get(f"{prefix}StreetName", ""),
            tags.get(f"{prefix}StreetNamePostType", ""),
            tags.get(f"{prefix}StreetNamePostDirectional", ""),
        ]
        return " ".join(p for p in parts if p).strip()

    first = re.sub(r"^\s*INTERSECTION\s+(OF\s+)?", "", street_of(""), flags=re.IGNORECASE)
    if kind == "Intersection":
        second = street_of("Second")
        if first and second:
            return ParsedAddress("intersection", first, second, city=city, zipcode=zipcode)
        return ParsedAddress("unparsed")
    if not first:
        return ParsedAddress("unparsed", city=city, zipcode=zipcode)
    number = tags.get("AddressNumber", "")
    nums = [int(n) for n in re.findall(r"\d+", number)]
    if nums:
        low, high = nums[0], nums[-1] if len(nums) > 1 else nums[0]
        return ParsedAddress("address", first, "", low, max(low, high), city, zipcode)
    return ParsedAddress("street", first, city=city, zipcode=zipcode)


@lru_cache(maxsize=200_000)
def parse_address(text: str) -> ParsedAddress:
    """Parse one address string (cached by the exact string).

    Parameters
    ----------
    text : str
        Free-text address.

    Returns
    -------
    ParsedAddress
        The parts; ``kind == "unparsed"`` when neither parser found a street.
    """
    if not text or not text.strip():
        return ParsedAddress("unparsed")
    text = text.strip()
    fast = _fast_parse(text)
    if fast is not None:
        return fast
    m = _SIMPLE_INTERSECTION.match(text)
    if m:
        second, city, zipcode = _strip_place(m.group(2))
        if second:
            return ParsedAddress(
                "intersection", m.group(1).strip(), second, city=city, zipcode=zipcode
            )
    return _usaddress_parse(text)
