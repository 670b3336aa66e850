"""Offline geocoder accuracy and speed on the embedded Boston 311 records (2015).

Records inside the OSM extract's box whose coordinates are real (not the City Hall
placeholder) are geocoded from their ``Location`` text and compared with the City's
LATITUDE/LONGITUDE. Printed per match type and per input kind (address vs intersection),
next to a baseline measured in the same run: "street middle only" (the same street
matching, no house numbers and no intersections) and usaddress-only parsing speed.

Run: .venv/bin/python bench/geocode_bench.py [--worst 15]
"""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path

import numpy as np
import pandas as pd
from pyproj import Transformer

from geo311._address import parse_address, street_key
from geo311.geocoding import Geocoder
from geo311.model import is_placeholder_point
from geo311.settings import REPO_DATA_DIR

BOX = (42.3344, 42.3678, -71.1067, -71.0626)  # lat min/max, lon min/max of the extract
TO_M = Transformer.from_crs("EPSG:4326", "EPSG:26986", always_xy=True)


def errors_m(
    lat: np.ndarray, lon: np.ndarray, ref_lat: np.ndarray, ref_lon: np.ndarray
) -> np.ndarray:
    x, y = TO_M.transform(lon, lat)
    rx, ry = TO_M.transform(ref_lon, ref_lat)
    return np.hypot(np.asarray(x) - rx, np.asarray(y) - ry)


def line(label: str, err: np.ndarray, total: int) -> str:
    ok = err[~np.isnan(err)]
    if len(ok) == 0:
        return f"{label:<34} {total:>6} matched {0:>5}"
    return (
        f"{label:<34} {total:>6} matched {len(ok):>5} ({len(ok) / total:6.1%})  "
        f"<=50 m {np.mean(ok <= 50):6.1%}  <=100 m {np.mean(ok <= 100):6.1%}  "
        f"median {np.median(ok):6.1f} m"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=REPO_DATA_DIR)
    parser.add_argument("--worst", type=int, default=10, help="print the N worst misses")
    args = parser.parse_args()

    df = pd.read_csv(
        args.data_dir / "boston311" / "boston311_2015_streetlights_potholes.csv.gz",
        dtype={"Location": str},
        usecols=["Location", "LATITUDE", "LONGITUDE"],
    )
    lat = df["LATITUDE"].astype(float)
    lon = df["LONGITUDE"].astype(float)
    placeholder = np.array([is_placeholder_point(a, b) for a, b in zip(lat, lon, strict=True)])
    inside = lat.between(BOX[0], BOX[1]) & lon.between(BOX[2], BOX[3]) & ~placeholder
    sub = df[inside & df["Location"].notna()].reset_index(drop=True)
    ref_lat = sub["LATITUDE"].astype(float).to_numpy()
    ref_lon = sub["LONGITUDE"].astype(float).to_numpy()
    locations = sub["Location"].tolist()
    is_inter = np.array([s.upper().startswith("INTERSECTION") for s in locations])
    print(
        f"records in the extract box with real coordinates: {len(sub)} "
        f"({(~is_inter).sum()} addresses, {is_inter.sum()} intersections)"
    )

    t0 = time.perf_counter()
    geocoder = Geocoder.from_data_dir(args.data_dir)
    print(f"geocoder ready in {time.perf_counter() - t0:.2f} s (cached index if present)")

    # -- accuracy --------------------------------------------------------------------
    res = geocoder.geocode_many(locations)
    err = errors_m(res["lat"].to_numpy(), res["lon"].to_numpy(), ref_lat, ref_lon)
    mt = res["match_type"].to_numpy()
    print("\n== geo311 geocoder (distance to the City's point)")
    for kind, mask in (("address", ~is_inter), ("intersection", is_inter)):
        total = int(mask.sum())
        print(line(f"{kind}: all", err[mask], total))
        for t in ("address_point", "interpolated", "intersection", "street"):
            m = mask & (mt == t)
            if m.any():
                print(line(f"  {kind}: {t}", err[m], int(m.sum())))
        if kind == "address":
            m = mask & np.isin(mt, ["address_point", "interpolated"])
            print(line("  address: point+interpolated", err[m], int(m.sum())))
        nones = res.loc[mask & (mt == "none"), "reason"]
        reasons = nones.str.replace(r"'.*'", "'…'", regex=True).str.replace(r"\d+", "N", regex=True)
        print(
            f"  {kind}: none {len(nones)}; top reasons: "
            + "; ".join(f"{n}× {r}" for r, n in reasons.value_counts().head(3).items())
        )

    # -- baseline: street middle only ------------------------------------------------
    base_lat = np.full(len(sub), np.nan)
    base_lon = np.full(len(sub), np.nan)
    for i, text in enumerate(locations):
        if is_inter[i]:
            continue
        parsed = parse_address(text)
        found = geocoder._street(parsed.street) if parsed.street else None
        if found is not None:
            base_lat[i], base_lon[i] = geocoder._wgs(*found[0].middle)
    base_err = errors_m(base_lat, base_lon, ref_lat, ref_lon)
    print("\n== baseline: street middle only (same parser and street matching)")
    print(line("address: street middle", base_err[~is_inter], int((~is_inter).sum())))

    if args.worst:
        print(f"\n== {args.worst} worst address/intersection misses")
        order = np.argsort(-np.nan_to_num(err, nan=-1))[: args.worst]
        for i in order:
            print(f"{err[i]:7.0f} m  {mt[i]:<13} {locations[i]!r} -> {res['matched_address'][i]!r}")

    # -- speed -----------------------------------------------------------------------
    everything = df["Location"].fillna("").tolist()
    print(f"\n== speed: batch geocoding of all {len(everything)} Location strings (cold caches)")
    parse_address.cache_clear()
    street_key.cache_clear()
    fresh = Geocoder(geocoder.index, zip_codes=geocoder.zip_codes)
    t0 = time.perf_counter()
    fresh.geocode_many(everything)
    dt = time.perf_counter() - t0
    print(f"geo311 geocode_many: {len(everything) / dt:10,.0f} addresses/s ({dt:.2f} s)")

    import usaddress

    sample = everything[:3000]
    t0 = time.perf_counter()
    for text in sample:
        with contextlib.suppress(usaddress.RepeatedLabelError):
            usaddress.tag(text)
    dt = time.perf_counter() - t0
    print(
        f"baseline usaddress.tag only (no matching, no cache): {len(sample) / dt:10,.0f} addresses/s"
    )
    t0 = time.perf_counter()
    repeat = fresh.geocode_many(everything)
    dt = time.perf_counter() - t0
    print(f"geo311 geocode_many again (warm result cache): {len(repeat) / dt:10,.0f} addresses/s")


if __name__ == "__main__":
    main()
