"""Match a street name as written to a street of the geocoder index.

Exact normalised key first; then a name written without its type (``Fenway``); then a
fuzzy match (rapidfuzz) that may not change the street type or the leading direction; then
the name without a trailing structure word (``Commonwealth Ave Underpass`` is Commonwealth
Avenue where no way carries the underpass's own name).
"""

from __future__ import annotations

import re

from geo311.geocoding.address import DIRECTIONS, split_suffix, street_key
from geo311.geocoding.index import Street

NAME_CUTOFF = 86.0
# A trailing word that names a structure on the street rather than the street itself.
_STRUCTURE_WORDS = ("UNDERPASS", "OVERPASS", "TUNNEL", "RAMP")
_DIRECTION_WORDS = frozenset(DIRECTIONS.values())
_DIGITS = re.compile(r"\d+")


class StreetMatcher:
    """Find the street of an index that a written name means (answers cached per name).

    Parameters
    ----------
    streets
        The index's streets by normalised key.
    """

    def __init__(self, streets: dict[str, Street]) -> None:
        self.streets = streets
        self._keys = list(streets)
        self._by_base: dict[str, list[str]] = {}
        for key in self._keys:
            self._by_base.setdefault(split_suffix(key)[0], []).append(key)
        self._cache: dict[str, tuple[Street, float] | None] = {}

    def match(self, name: str) -> tuple[Street, float] | None:
        """Return the street a written name means and the name score (0..1), or ``None``.

        Parameters
        ----------
        name
            Street name as written (``W Newton St``, ``Mass Ave``, ``Public Alley No. 434``).

        Returns
        -------
        (Street, float) or None
            The street and the similarity; ``None`` when no street is close enough.
        """
        if name in self._cache:
            return self._cache[name]
        key = street_key(name)
        found = self._lookup(key) if key else None
        if found is None and key:
            words = key.split(" ")
            if len(words) > 1 and words[-1] in _STRUCTURE_WORDS:
                found = self._lookup(" ".join(words[:-1]))
                found = (found[0], round(found[1] * 0.9, 3)) if found else None
        self._cache[name] = found
        return found

    def _lookup(self, key: str) -> tuple[Street, float] | None:
        from rapidfuzz import fuzz, process

        if key in self.streets:
            return self.streets[key], 1.0
        base, suffix = split_suffix(key)
        if not suffix:
            # "Fenway", "Charlesgate": a name written without its type.
            cands = self._by_base.get(base, [])
            if len(cands) == 1:
                return self.streets[cands[0]], 0.95
        best = process.extractOne(key, self._keys, scorer=fuzz.ratio, score_cutoff=NAME_CUTOFF)
        if best is None:
            return None
        cand_key = best[0]
        cbase, csuffix = split_suffix(cand_key)
        if suffix and csuffix and suffix != csuffix:
            return None  # "Beaver Place" is not "Beaver Street"
        if fuzz.ratio(base, cbase) < NAME_CUTOFF:
            return None
        first, cfirst = base.split(" ")[0], cbase.split(" ")[0]
        if (first in _DIRECTION_WORDS or cfirst in _DIRECTION_WORDS) and first != cfirst:
            return None  # "West Newton Street" is not "Newton Street"
        if _DIGITS.findall(base) != _DIGITS.findall(cbase):
            return None  # "Public Alley 434" is not "Public Alley 431", nor 16th Street 17th
        return self.streets[cand_key], round(float(best[1]) / 100.0, 3)
