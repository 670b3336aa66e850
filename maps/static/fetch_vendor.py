"""Re-create maps/static/vendor/ (and tests/vendor/) from the pinned list in vendor.toml.

Run from the repository root: ``python maps/static/fetch_vendor.py [--only DIR ...]``.

npm packages are fetched with ``npm pack NAME@VERSION`` from the npm registry (so ``npm`` must be
installed and the registry reachable, or the package already in npm's cache); folium's plugin
scripts are copied from the installed folium, whose version must equal the pin. Only the files
listed in vendor.toml are kept, with the package's licence file; listed patches are applied.
Nothing here runs at run time: geo311 reads the committed files.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "vendor.toml"
TARGETS = {"package": HERE / "vendor", "test": HERE.parents[1] / "tests" / "vendor"}


def _npm_package(name: str, version: str, work: Path) -> Path:
    out = subprocess.run(
        ["npm", "pack", f"{name}@{version}", "--pack-destination", str(work), "--silent"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if out.returncode != 0:
        sys.exit(f"npm pack {name}@{version} failed: {out.stderr.strip()[-400:]}")
    tgz = work / out.stdout.strip().splitlines()[-1]
    with tarfile.open(tgz) as tar:
        tar.extractall(work / "x", filter="data")
    return work / "x" / "package"


def _folium_package(version: str) -> Path:
    import folium

    if folium.__version__ != version:
        sys.exit(
            f"folium {folium.__version__} is installed but vendor.toml pins {version}; install "
            f"folium=={version} or update the pin and the folium URLs in vendor.toml"
        )
    root = Path(folium.__file__).resolve().parent
    licence = next(root.parent.glob(f"folium-{version}.dist-info/licenses/LICENSE*"), None)
    work = Path(tempfile.mkdtemp())
    shutil.copytree(root / "templates", work / "templates")
    if licence is not None:
        shutil.copy2(licence, work / licence.name)
    return work


def vendor_one(package: dict[str, Any]) -> Path:
    """Copy one package's listed files, licence and patches into its vendor folder."""
    target = TARGETS[package.get("scope", "package")] / package["dir"]
    with tempfile.TemporaryDirectory() as tmp:
        if package["source"] == "folium":
            source = _folium_package(package["version"])
        else:
            source = _npm_package(package["npm"], package["version"], Path(tmp))
        shutil.rmtree(target, ignore_errors=True)
        wanted = list(package["files"])
        if package.get("license_file"):
            wanted.append(package["license_file"])
        for rel in wanted:
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / rel, target / rel)
    for rel, old, new in package.get("patch", []):
        path = target / rel
        text = path.read_text(encoding="utf-8")
        if old not in text:
            sys.exit(f"{package['dir']}/{rel}: patch text {old!r} not found; update vendor.toml")
        path.write_text(text.replace(old, new), encoding="utf-8")
    return target


def main() -> None:
    """Fetch every package of vendor.toml (or those named with ``--only``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="vendor folder names to fetch")
    args = parser.parse_args()
    packages = tomllib.loads(MANIFEST.read_text(encoding="utf-8"))["package"]
    for package in packages:
        if args.only and package["dir"] not in args.only:
            continue
        target = vendor_one(package)
        size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
        print(f"{package['dir']:<32} {size / 1024:8.1f} kB  {target}")


if __name__ == "__main__":
    main()
