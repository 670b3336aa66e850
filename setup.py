"""Build configuration beyond pyproject.toml: the embedded data ships inside the package.

The source tree keeps the city's data in the top-level ``data/`` folder (the design card's
layout); the wheel installs it as ``geo311/data`` so that an installed geo311 finds it through
``importlib.resources`` (:mod:`geo311.embedded`). Everything else (the package data globs included) is in ``pyproject.toml``.
"""

from setuptools import find_packages, setup

PACKAGES = find_packages(include=["geo311*", "routing*", "maps*", "api*"])

setup(
    packages=[*PACKAGES, "geo311.data"],
    package_dir={"geo311.data": "data"},
)
