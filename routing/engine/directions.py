"""Turn-by-turn directions from the street edges of a path (pure functions, no graph needed).

A path is a list of :class:`Segment` (street name, class, length, time, bearings at both
ends), either from :class:`routing.engine.matrix.PathEdge` or from a stored plan document. Consecutive
segments of the same street merge into one instruction; the turn between instructions comes
from the change of bearing where they meet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# |bearing change| thresholds in degrees (right is positive)
STRAIGHT_MAX = 20.0
SLIGHT_MAX = 45.0
TURN_MAX = 135.0
SHARP_MAX = 165.0  # beyond this a turn is a U-turn

_COMPASS = ("north", "northeast", "east", "southeast", "south", "southwest", "west", "northwest")


@dataclass(frozen=True, slots=True)
class Segment:
    """One (partial) street edge driven, as directions need it.

    Attributes
    ----------
    name : str
        Street name (``""`` when unnamed).
    highway : str
        OSM class, used to describe an unnamed street.
    length_m, travel_time_s : float
        Length and travel time of the part driven.
    bearing_start, bearing_end : float
        Compass bearings (degrees) where the part starts and ends.
    """

    name: str
    highway: str
    length_m: float
    travel_time_s: float
    bearing_start: float
    bearing_end: float

    @property
    def street(self) -> str:
        """Readable street name: the name, or ``unnamed <class> road`` when unnamed."""
        if self.name:
            return self.name
        return f"unnamed {self.highway or 'street'} road" if self.highway else "unnamed road"

    @classmethod
    def from_any(cls, edge: Any) -> Segment:
        """Build from a :class:`routing.engine.matrix.PathEdge`, a Segment or a mapping of its fields."""
        if isinstance(edge, Segment):
            return edge
        get = edge.get if isinstance(edge, Mapping) else lambda k, d=None: getattr(edge, k, d)
        name = get("name", "") or ""
        if isinstance(name, list):  # OSM ways may carry several names
            name = " / ".join(str(n) for n in name)
        return cls(
            name=str(name),
            highway=str(get("highway", "") or ""),
            length_m=float(get("length_m", 0.0)),
            travel_time_s=float(get("travel_time_s", 0.0)),
            bearing_start=float(get("bearing_start", 0.0)),
            bearing_end=float(get("bearing_end", 0.0)),
        )


@dataclass(frozen=True, slots=True)
class Instruction:
    """One line of turn-by-turn directions.

    Attributes
    ----------
    kind : str
        ``depart``, ``turn`` or ``arrive``.
    modifier : str
        ``straight``, ``slight left``/``slight right``, ``left``/``right``,
        ``sharp left``/``sharp right`` or ``uturn`` (empty for ``depart``/``arrive``).
    street : str
        The street followed after the instruction.
    distance_m, duration_s : float
        Distance and travel time along that street until the next instruction.
    offset_s : float
        Travel time from the start of the path to this instruction.
    heading : str
        Compass heading when departing (``north`` ... ``northwest``), else ``""``.
    text : str
        The instruction as a sentence (English; :func:`maps.itinerary.instruction_text` says it
        in the reader's language from the fields above).
    same_street : bool
        A ``turn`` that stays on the street it was on (``Continue on``, a U-turn ``on``); an
        ``arrive`` where the crew already is.
    """

    kind: str
    modifier: str
    street: str
    distance_m: float
    duration_s: float
    offset_s: float
    heading: str
    text: str
    same_street: bool = False


def bearing_change(bearing_in: float, bearing_out: float) -> float:
    """Return the signed change of heading in degrees, in ``[-180, 180)``; right is positive.

    Parameters
    ----------
    bearing_in, bearing_out : float
        Compass bearings (degrees) arriving at and leaving a junction.

    Returns
    -------
    float
        ``bearing_out - bearing_in`` wrapped to ``[-180, 180)``.
    """
    return (bearing_out - bearing_in + 180.0) % 360.0 - 180.0


def turn_modifier(bearing_in: float, bearing_out: float) -> str:
    """Classify the turn between two bearings.

    Parameters
    ----------
    bearing_in, bearing_out : float
        Compass bearings (degrees) arriving at and leaving a junction.

    Returns
    -------
    str
        ``straight`` (< 20 degrees), ``slight left/right`` (< 45), ``left/right`` (< 135),
        ``sharp left/right`` (< 165) or ``uturn``.
    """
    delta = bearing_change(bearing_in, bearing_out)
    size = abs(delta)
    side = "right" if delta > 0 else "left"
    if size < STRAIGHT_MAX:
        return "straight"
    if size < SLIGHT_MAX:
        return f"slight {side}"
    if size < TURN_MAX:
        return side
    if size < SHARP_MAX:
        return f"sharp {side}"
    return "uturn"


def compass(bearing_deg: float) -> str:
    """Return the eight-point compass name of a bearing (``north``, ``northeast`` ...)."""
    return _COMPASS[int(((bearing_deg % 360.0) + 22.5) // 45.0) % 8]


def _turn_text(modifier: str, street: str, same_street: bool) -> str:
    if modifier == "uturn":
        return f"Make a U-turn onto {street}" if not same_street else f"Make a U-turn on {street}"
    if modifier == "straight":
        return f"Continue onto {street}" if not same_street else f"Continue on {street}"
    return f"Turn {modifier} onto {street}"


def directions(edges: Sequence[Any], *, destination: str = "") -> list[Instruction]:
    """Return turn-by-turn directions along a path.

    Consecutive edges of the same street merge into one instruction (unless the crew makes a
    U-turn on it); a new instruction starts where the street changes, with the turn from the
    bearing change at the junction.

    Parameters
    ----------
    edges : sequence
        The path's edges in order: :class:`routing.engine.matrix.PathEdge`, :class:`Segment` or
        mappings with ``name``, ``highway``, ``length_m``, ``travel_time_s``,
        ``bearing_start`` and ``bearing_end``.
    destination : str, keyword-only
        What the crew arrives at (e.g. ``"stop 3: 145 Ipswich St"``), for the last line.

    Returns
    -------
    list of Instruction
        ``depart``, then ``turn`` lines, then ``arrive``; a single ``arrive`` when the path
        has no length (the next stop is where the crew already is).
    """
    segs = [Segment.from_any(e) for e in edges]
    segs = [s for s in segs if s.length_m > 0.0 or s.travel_time_s > 0.0]
    target = destination or "the destination"
    if not segs:
        return [
            Instruction(
                "arrive", "", "", 0.0, 0.0, 0.0, "", f"Arrive at {target} (same place)", True
            )
        ]
    groups: list[tuple[str, list[Segment], str]] = []  # (street, segments, modifier)
    for seg in segs:
        if groups:
            prev = groups[-1][1][-1]
            modifier = turn_modifier(prev.bearing_end, seg.bearing_start)
            if seg.street == groups[-1][0] and modifier != "uturn":
                groups[-1][1].append(seg)
                continue
            groups.append((seg.street, [seg], modifier))
        else:
            groups.append((seg.street, [seg], ""))
    out: list[Instruction] = []
    offset = 0.0
    for k, (street, group, modifier) in enumerate(groups):
        dist = sum(s.length_m for s in group)
        dur = sum(s.travel_time_s for s in group)
        if k == 0:
            heading = compass(group[0].bearing_start)
            text = f"Head {heading} on {street}"
            out.append(Instruction("depart", "", street, dist, dur, offset, heading, text))
        else:
            same = street == groups[k - 1][0]
            text = _turn_text(modifier, street, same)
            out.append(Instruction("turn", modifier, street, dist, dur, offset, "", text, same))
        offset += dur
    out.append(
        Instruction("arrive", "", groups[-1][0], 0.0, 0.0, offset, "", f"Arrive at {target}")
    )
    return out


def instruction_dict(ins: Instruction) -> dict[str, Any]:
    """Return an instruction as JSON-ready data."""
    return {
        "kind": ins.kind,
        "modifier": ins.modifier,
        "street": ins.street,
        "distance_m": round(ins.distance_m, 1),
        "duration_s": round(ins.duration_s, 1),
        "offset_s": round(ins.offset_s, 1),
        "heading": ins.heading,
        "text": ins.text,
    }
