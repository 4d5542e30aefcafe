#!/usr/bin/env bash
# Refresh the hash-checked locks in requirements/ from pyproject.toml (and the .in files beside them).
#
#   scripts/lock.sh            keep every pin that still fits; add and drop only what pyproject.toml changed
#   scripts/lock.sh --upgrade  every package at its newest version that fits (the monthly refresh)
#
# `make lock` and `make lock-upgrade` run this with the uv that requirements/uv.txt pins.
# The locks are universal (any OS, Python 3.11 and newer):
#   requirements/tick.txt  the core dependencies and the build backend: what the tick workflow installs
#   requirements/dev.txt   every extra (api, github, dev) and the build backend: what make and CI install
#   requirements/uv.txt    uv itself
# tests/test_lock.py fails when pyproject.toml asks for something these files do not pin.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
uv="${UV:-uv}"
compile=("${uv}" pip compile --quiet --generate-hashes --universal --python-version 3.11 "$@")

"${compile[@]}" --all-extras pyproject.toml requirements/build.in -o requirements/dev.txt
# The tick's set is a subset of what the tests ran with: the same versions, never a newer one.
"${compile[@]}" pyproject.toml requirements/build.in -c requirements/dev.txt -o requirements/tick.txt
"${compile[@]}" requirements/uv.in -o requirements/uv.txt
