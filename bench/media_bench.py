"""Time and memory of checking posted photos: one, then four at once (geo311.requests.media).

Writes two PNGs to a temporary folder: 6300 x 6300 px (about 120 KB, over the pixel limit:
refused from its header) and 4000 x 4000 px (about 50 KB, within it: decoded and written
again). Each measurement runs in a fresh process (``clean_image`` on 1 or 4 threads) and
prints the wall time and the growth of the process's peak RSS. With ``--baseline-ref REF``
the same runs use ``geo311/requests/media.py`` of that git revision (``git show``), next to this
tree's.

    .venv/bin/python bench/media_bench.py [--baseline-ref a948a22]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_RUN = """
import importlib.util, sys, time
from concurrent.futures import ThreadPoolExecutor
spec = importlib.util.spec_from_file_location("media_under_test", sys.argv[1])
media = importlib.util.module_from_spec(spec)
sys.modules["media_under_test"] = media
spec.loader.exec_module(media)
data = open(sys.argv[2], "rb").read()
threads = int(sys.argv[3])
def one(_):
    try:
        media.clean_image(data, max_bytes=5_000_000)
        return "accepted"
    except Exception as exc:
        return "refused: " + str(exc)[:70]
def peak_mb():  # this process's peak RSS (VmHWM; ru_maxrss would carry the parent's over exec)
    line = next(x for x in open("/proc/self/status") if x.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024
before = peak_mb()
start = time.perf_counter()
with ThreadPoolExecutor(threads) as pool:
    outcome = list(pool.map(one, range(threads)))[0]
took = time.perf_counter() - start
grown = peak_mb() - before
print(f"{took:7.3f} s  +{grown:6.0f} MB  {outcome}")
"""


def make_png(path: Path, side: int) -> None:
    """Write a grey ``side`` x ``side`` PNG with a white diagonal (compresses very well)."""
    from PIL import Image

    image = Image.new("RGB", (side, side), (90, 90, 90))
    for x in range(0, side, 7):
        image.putpixel((x, x), (255, 255, 255))
    image.save(path)


def run(media: Path, png: Path, threads: int) -> str:
    """Return the line of one measurement (a fresh process)."""
    done = subprocess.run(
        [sys.executable, "-c", _RUN, str(media), str(png), str(threads)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT)},
    )
    return done.stdout.strip()


def main() -> None:
    """Measure this tree (and a baseline revision) on both photos, 1 and 4 at once."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline-ref", help="git revision whose geo311/requests/media.py to compare")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        trees = {"this tree": ROOT / "geo311" / "media.py"}
        if args.baseline_ref:
            old = folder / "baseline_media.py"
            old.write_text(
                subprocess.run(
                    ["git", "show", f"{args.baseline_ref}:geo311/requests/media.py"],
                    capture_output=True,
                    text=True,
                    check=True,
                    cwd=ROOT,
                ).stdout  # fmt: skip
            )
            trees[f"baseline {args.baseline_ref}"] = old
        for side in (6300, 4000):
            png = folder / f"{side}.png"
            make_png(png, side)
            print(f"{side} x {side} px PNG, {png.stat().st_size:,} bytes")
            for threads in (1, 4):
                for label, media in trees.items():
                    print(f"  {threads} at once, {label:18s} {run(media, png, threads)}")


if __name__ == "__main__":
    main()
