"""Address parsing and street-name normalisation for the offline geocoder.

A fast regex path handles the forms US 311 exports write (``145-151 Ipswich St  Boston  MA
02215``, ``245-245A W Canton St``, ``INTERSECTION of A & B``, ``E LOMBARD ST &S BOULDIN ST``,
``A and B``, ``A / B``, ``A at B``, a trailing ``City, ST 12345-6789`` of any state, with or
without commas, in any case); anything else goes to ``usaddress``. Street names are normalised
to an upper-case, spelled-out key (``W Newton St`` -> ``WEST NEWTON STREET``, ``Harvard Brg``
-> ``HARVARD BRIDGE``, ``Public Alley No. 434`` -> ``PUBLIC ALLEY 434``) that is compared with
the same key of the OSM names. Whole-name aliases (``Mass Ave``) are data: the ``[aliases]``
table of ``data/osm/extracts.toml``.

European order is read too: the number after the street and the postcode before the city
(``Kaivokatu 1, 00100 Helsinki``, ``Hauptstraße 5a, 10115 Berlin``); such a parse is flagged
``number_after`` so that the geocoder can still read ``Public Alley 434`` or ``Route 9`` as a
street's whole name when the index has it. Keys keep the street type inside the word
(``KAIVOKATU``, ``HAUPTSTRASSE``; ``Hauptstr.`` is ``HAUPTSTRASSE``) and fold accents
(``Säästöpankinranta`` -> ``SAASTOPANKINRANTA``), so a name typed without them still matches.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from geo311.embedded import EMBEDDED_DATA_DIR

# Street suffixes (USPS abbreviations and common variants) -> spelled-out form.
SUFFIXES: dict[str, str] = {
    **{k: "STREET" for k in ("ST", "STR", "STREET")},
    **{k: "AVENUE" for k in ("AVE", "AV", "AVEN", "AVENUE")},
    **{k: "ROAD" for k in ("RD", "ROAD")},
    **{k: "DRIVE" for k in ("DR", "DRV", "DRIVE")},
    **{k: "PLACE" for k in ("PL", "PLACE")},
    **{k: "SQUARE" for k in ("SQ", "SQR", "SQUARE")},
    **{k: "TERRACE" for k in ("TER", "TERR", "TERRACE")},
    **{k: "PARK" for k in ("PK", "PRK", "PARK")},
    **{k: "PARKWAY" for k in ("PKWY", "PKY", "PWY", "PARKWAY")},
    **{k: "BOULEVARD" for k in ("BLVD", "BOUL", "BOULEVARD")},
    **{k: "HIGHWAY" for k in ("HWY", "HIGHWAY")},
    **{k: "COURT" for k in ("CT", "CRT", "COURT")},
    **{k: "LANE" for k in ("LN", "LANE")},
    **{k: "WAY" for k in ("WAY", "WY")},
    **{k: "ALLEY" for k in ("ALY", "ALLEY")},
    **{k: "CIRCLE" for k in ("CIR", "CIRCLE")},
    **{k: "BRIDGE" for k in ("BR", "BRG", "BRDG", "BRIDGE")},
    **{k: "HEIGHTS" for k in ("HTS", "HGTS", "HEIGHTS")},
    **{k: "UNDERPASS" for k in ("UPAS", "UNDERPASS")},
    **{k: "OVERPASS" for k in ("OPAS", "OVERPASS")},
    **{k: "EXPRESSWAY" for k in ("EXPY", "EXPWY", "EXPRESSWAY")},
    **{k: "FREEWAY" for k in ("FWY", "FREEWAY")},
    **{k: "CAUSEWAY" for k in ("CSWY", "CAUSEWAY")},
    **{k: "CROSSING" for k in ("XING", "CROSSING")},
    **{k: "CRESCENT" for k in ("CRES", "CRESCENT")},
    **{k: "TRAIL" for k in ("TRL", "TRAIL")},
    **{k: "ROW" for k in ("ROW",)},
    **{k: "WHARF" for k in ("WHF", "WHARF")},
    **{k: "PLAZA" for k in ("PLZ", "PLAZA")},
    **{k: "EXTENSION" for k in ("EXT", "EXTENSION")},
    **{k: "TURNPIKE" for k in ("TPKE", "TURNPIKE")},
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
# USPS codes of the 50 states and DC -> name (a trailing state of an address is dropped).
STATES: dict[str, str] = {
    "AL": "ALABAMA", "AK": "ALASKA", "AZ": "ARIZONA", "AR": "ARKANSAS", "CA": "CALIFORNIA",
    "CO": "COLORADO", "CT": "CONNECTICUT", "DE": "DELAWARE", "DC": "DISTRICT OF COLUMBIA",
    "FL": "FLORIDA", "GA": "GEORGIA", "HI": "HAWAII", "ID": "IDAHO", "IL": "ILLINOIS",
    "IN": "INDIANA", "IA": "IOWA", "KS": "KANSAS", "KY": "KENTUCKY", "LA": "LOUISIANA",
    "ME": "MAINE", "MD": "MARYLAND", "MA": "MASSACHUSETTS", "MI": "MICHIGAN",
    "MN": "MINNESOTA", "MS": "MISSISSIPPI", "MO": "MISSOURI", "MT": "MONTANA",
    "NE": "NEBRASKA", "NV": "NEVADA", "NH": "NEW HAMPSHIRE", "NJ": "NEW JERSEY",
    "NM": "NEW MEXICO", "NY": "NEW YORK", "NC": "NORTH CAROLINA", "ND": "NORTH DAKOTA",
    "OH": "OHIO", "OK": "OKLAHOMA", "OR": "OREGON", "PA": "PENNSYLVANIA",
    "RI": "RHODE ISLAND", "SC": "SOUTH CAROLINA", "SD": "SOUTH DAKOTA", "TN": "TENNESSEE",
    "TX": "TEXAS", "UT": "UTAH", "VT": "VERMONT", "VA": "VIRGINIA", "WA": "WASHINGTON",
    "WV": "WEST VIRGINIA", "WI": "WISCONSIN", "WY": "WYOMING",
}  # fmt: skip
# Words that only label a way's number ("Public Alley No. 434" is "PUBLIC ALLEY 434").
_NUMBER_WORDS = {"NO", "NUM", "NUMBER", "NBR"}
# A house-number range wider than this is not one building (see number_range).
MAX_RANGE_WIDTH = 100
_ALIASES_FILE = EMBEDDED_DATA_DIR / "osm" / "extracts.toml"

_APOSTROPHES = re.compile(r"['’`]")
_PUNCT = re.compile(r"[.,#]")
_SPACES = re.compile(r"\s+")
_STATE_NAMES = frozenset({*STATES, *STATES.values()})
# "... 02215", "... 02215-1234", "... 2215" (a lost leading zero: only after a state).
_ZIP_END = re.compile(r"[\s,]+(\d{4,5})(?:-\d{4})?\s*$")
_NUMBER_HEAD = re.compile(
    r"^\s*#?(\d+)(?:[A-Z](?![A-Z]))?"
    r"(?:\s*(?:-|–|THRU\b|THROUGH\b|TO\b)\s*(\d+)(?:[A-Z](?![A-Z]))?)?[\s,]+(.*)$",
    re.IGNORECASE,
)
# European order: "Kaivokatu 1", "Hauptstraße 5a", "Mannerheimintie 12-14", then ", 00100 City".
_NUMBER_TAIL = re.compile(
    r"^\s*(?P<street>[^\d,&@/]*[^\W\d_][^\d,&@/]*?)\s+(?P<low>\d{1,4})\s*[a-z]?"
    r"(?:\s*[-–]\s*(?P<high>\d{1,4})\s*[a-z]?)?(?:\s+[A-Z](?:\s*\d{1,3})?)?"
    r"\s*(?:,\s*(?P<rest>.*))?$",
    re.IGNORECASE,
)
_POSTCODE_HEAD = re.compile(r"^(?:[A-Z]{1,2}-)?(\d{4,5})\b\s*(.*)$", re.IGNORECASE)
_NAME_ONLY = re.compile(r"^[A-Z][A-Z .'’-]*$", re.IGNORECASE)
_INTERSECTION_HEAD = re.compile(r"^\s*INTERSECTION\s+(?:OF\s+)?", re.IGNORECASE)
# "A & B", "A &B", "A@B", "A / B", "A and B", "A at B".
_CROSS = re.compile(r"\s*(?:&|@|/)\s*|\s+(?:AND|AT)\s+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ParsedAddress:
    """An address split into the parts the geocoder uses.

    Attributes
    ----------
    kind
        ``address`` (house number and street), ``street`` (street only), ``intersection``
        or ``unparsed``.
    street
        Street name as written (first street of an intersection).
    street2 : str
        Second street of an intersection, else ``""``.
    number_low, number_high
        House number, or both ends of a range (``145-151``); equal for a single number.
    city, zipcode
        City and five-digit ZIP (leading zero restored), ``""`` when absent; in European
        order the postcode as written before the city (``00100``).
    number_after
        The number was written after the street (European order).
    """

    kind: str
    street: str = ""
    street2: str = ""
    number_low: int | None = None
    number_high: int | None = None
    city: str = ""
    zipcode: str = ""
    number_after: bool = False


def normalise_zip(text: str) -> str:
    """Return a five-digit ZIP (``2215`` and ``2215.0`` -> ``02215``), or ``""``."""
    text = text.strip().split(".")[0].split("-")[0]
    if not text.isdigit() or not 3 <= len(text) <= 5:
        return ""
    return text.zfill(5)


@lru_cache(maxsize=1)
def _aliases() -> dict[str, str]:
    """Whole-name aliases (normalised keys) from the ``[aliases]`` table of the data file."""
    try:
        raw = tomllib.loads(_ALIASES_FILE.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    table = raw.get("aliases", {})
    return {str(k): str(v) for k, v in table.items()} if isinstance(table, dict) else {}


def _fold(text: str) -> str:
    """Drop accents (``Säästöpankinranta`` -> ``Saastopankinranta``); ``ß`` becomes ``ss``."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text.replace("ß", "ss"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _key_words(words: list[str]) -> list[str]:
    out: list[str] = []
    last = len(words) - 1
    for i, word in enumerate(words):
        if i == 0 and last > 0 and word in ("ST", "STE"):
            out.append("SAINT")
        elif word == "MT":
            out.append("MOUNT")
        elif word in _NUMBER_WORDS and i < last and words[i + 1][:1].isdigit():
            continue  # "Public Alley No. 434" is Public Alley 434
        elif word in DIRECTIONS and (i == 0 or i == last) and last > 0:
            out.append(DIRECTIONS[word])
        elif word in SUFFIXES and i > 0:
            out.append(SUFFIXES[word])
        elif len(word) > 4 and word.endswith("STR"):
            out.append(word + "ASSE")  # "Hauptstr." is Hauptstraße
        else:
            out.append(word)
    return out


@lru_cache(maxsize=65536)
def street_key(name: str) -> str:
    """Return the normalised key of a street name (upper case, suffixes spelled out).

    ``St`` is ``SAINT`` as a first word and ``STREET`` elsewhere; ``Mt`` is ``MOUNT``;
    ``No.`` before a number is dropped. Whole-name aliases come from the data file.
    """
    text = _APOSTROPHES.sub("", _fold(name).upper().replace("-", " "))
    text = _SPACES.sub(" ", _PUNCT.sub(" ", text)).strip()
    words = text.split(" ")
    if not words or words == [""]:
        return ""
    key = " ".join(_key_words(words))
    for alias, target in _aliases().items():
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


def _state_cut(text: str, *, with_zip: bool) -> int | None:
    """Where a trailing state (code or name, 1-3 words) starts, or ``None``.

    After a ZIP any state counts; without one it must be set off by a comma or two spaces,
    or be an upper-case code that is no street type or direction (``Oak Ct`` keeps its Ct).
    """
    stripped = text.rstrip(" ,")
    words = stripped.rsplit(None, 3)
    for k in (3, 2, 1):
        if len(words) <= k or " ".join(words[-k:]).upper() not in _STATE_NAMES:
            continue
        parts = stripped.rsplit(None, k)
        cut = len(parts[0])
        gap = stripped[cut : cut + 2]
        if with_zip or "," in gap or gap == "  " or parts[0].endswith(","):
            return cut
        code = parts[-1]
        if k == 1 and code.isupper() and code not in SUFFIXES and code not in DIRECTIONS:
            return cut
    return None


def _strip_state_zip(text: str) -> tuple[str, str, bool]:
    """Drop a trailing ``ST 12345-6789`` / ``, State`` / ``12345``; return (text, zip, found)."""
    m = _ZIP_END.search(text, max(0, len(text) - 16))
    if m:
        head = text[: m.start()]
        cut = _state_cut(head, with_zip=True)
        if cut is not None:
            return head[:cut], normalise_zip(m.group(1)), True
        if len(m.group(1)) == 5:
            return head, normalise_zip(m.group(1)), True
    cut = _state_cut(text, with_zip=False)
    if cut is not None:
        return text[:cut], "", True
    return text, "", False


def _strip_place(text: str) -> tuple[str, str, str]:
    """Split ``Ipswich St  Boston  MA  02215`` into (street, city, zip)."""
    text, zipcode, found = _strip_state_zip(text)
    text = text.strip().rstrip(",").strip()
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
        # "Public Alley No 1001": the way's number belongs to the street.
        if cut + 1 < len(words) and words[cut + 1].upper().rstrip(".") in _NUMBER_WORDS:
            cut += 1
        if cut + 1 < len(words) and words[cut + 1].lstrip("#").isdigit():
            cut += 1
        return " ".join(words[: cut + 1]), " ".join(words[cut + 1 :]), zipcode
    if found:
        # "Fenway Boston MA": without a suffix the city cannot be told apart reliably.
        return "", "", zipcode
    return text, "", zipcode


def _parse_intersection(text: str) -> ParsedAddress | None:
    head = _INTERSECTION_HEAD.match(text)
    body = text[head.end() :] if head else text
    parts = _CROSS.split(body, maxsplit=1)
    if len(parts) != 2:
        return None
    first = parts[0].strip()
    second, city, zipcode = _strip_place(parts[1])
    if first and second:
        return ParsedAddress("intersection", first, second, city=city, zipcode=zipcode)
    return None


def number_range(first: int, second: int) -> tuple[int, int]:
    """Return the (low, high) house numbers of a range as written (``first-second``).

    ``135-137`` and ``137-135`` are 135..137; an abbreviated end (``1079-81``) takes the
    first number's leading digits (1079..1081); an end that is neither (``1079-108H``, a
    number cut short) or a range over ``MAX_RANGE_WIDTH`` numbers wide keeps the first
    number only, since it does not name one building.

    Parameters
    ----------
    first, second
        The two numbers in the order written.

    Returns
    -------
    (int, int)
        Low and high house number.
    """
    a, b = str(first), str(second)
    if second < first and len(b) < len(a):
        second = int(a[: len(a) - len(b)] + b) if len(b) <= 2 else first
        if second < first:
            second += 10 ** len(b)
    low, high = min(first, second), max(first, second)
    return (first, first) if high - low > MAX_RANGE_WIDTH else (low, high)


def _fast_parse(text: str) -> ParsedAddress | None:
    if _INTERSECTION_HEAD.match(text):
        return _parse_intersection(text)
    m = _NUMBER_HEAD.match(text)
    if m:
        street, city, zipcode = _strip_place(m.group(3))
        if not street:
            return None
        a = int(m.group(1))
        b = int(m.group(2)) if m.group(2) else a
        low, high = number_range(a, b)
        return ParsedAddress("address", street, "", low, high, city, zipcode)
    if _CROSS.search(text):
        return _parse_intersection(text)
    european = _number_after(text)
    if european is not None:
        return european
    street, city, zipcode = _strip_place(text)
    typed = any(w.upper().rstrip(".") in SUFFIXES for w in street.split()[1:])
    if street and (typed or street != text) and not street[:1].isdigit():
        return ParsedAddress("street", street, city=city, zipcode=zipcode)
    return None


def _number_after(text: str) -> ParsedAddress | None:
    """``Kaivokatu 1, 00100 Helsinki``: the number after the street (European order)."""
    if _strip_state_zip(text)[2]:
        return None  # a US address ("... MA 02215") whose street is written alone
    m = _NUMBER_TAIL.match(text)
    if m is None:
        return None
    street = m.group("street").strip()
    last = street.split()[-1].upper().rstrip(".")
    if last in _NUMBER_WORDS:
        return None  # "Public Alley No. 434" is a street's whole name
    rest = (m.group("rest") or "").strip().rstrip(",").strip()
    zipcode = ""
    head = _POSTCODE_HEAD.match(rest)
    if head:
        zipcode, rest = head.group(1), head.group(2).strip()
    city = rest.split(",")[0].strip()
    a = int(m.group("low"))
    b = int(m.group("high")) if m.group("high") else a
    low, high = number_range(a, b)
    return ParsedAddress("address", street, "", low, high, city, zipcode, number_after=True)


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

    first = _INTERSECTION_HEAD.sub("", street_of(""))
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
        low, high = number_range(nums[0], nums[-1])
        return ParsedAddress("address", first, "", low, high, city, zipcode)
    return ParsedAddress("street", first, city=city, zipcode=zipcode)


@lru_cache(maxsize=200_000)
def parse_address(text: str) -> ParsedAddress:
    """Parse one address string (cached by the exact string).

    Parameters
    ----------
    text
        Free-text address.

    Returns
    -------
    ParsedAddress
        The parts; ``kind == "unparsed"`` when neither parser found a street. House number
        0 ("somewhere on this street") is kept as ``number_low == 0``.
    """
    if not text or not text.strip():
        return ParsedAddress("unparsed")
    text = _SPACES.sub(" ", text.strip()) if "\t" in text or "\n" in text else text.strip()
    fast = _fast_parse(text)
    if fast is not None:
        return fast
    parsed = _usaddress_parse(text)
    if parsed.kind == "unparsed" and _NAME_ONLY.match(text):
        return ParsedAddress("street", text)  # "Fenway": a name written alone
    return parsed
