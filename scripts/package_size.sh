#!/usr/bin/env bash
# Wheel size and installed size of the package at a git revision (default HEAD).
#   scripts/package_size.sh [REV]
# Builds the wheel from `git archive REV` in a temporary folder (so no stale build/ or
# untracked file of the working tree gets in), unpacks it as pip installs it, and prints
# byte counts: the wheel, collage/ and collage/weights/ (du --apparent-size).
set -euo pipefail
cd "$(dirname "$0")/.."
rev="${1:-HEAD}"
py="${PYTHON:-.venv/bin/python}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/src" "$tmp/wheel" "$tmp/installed"
git archive "$rev" pyproject.toml README.md LICENSE src | tar -x -C "$tmp/src"
(cd "$tmp/src" && "$OLDPWD/$py" -m pip wheel . --no-deps -q -w "$tmp/wheel" >/dev/null)
whl="$(ls "$tmp"/wheel/*.whl)"
(cd "$tmp/installed" && "$OLDPWD/$py" -m zipfile -e "$whl" .)
echo "revision $(git rev-parse --short "$rev")"
echo "wheel $(stat -c %s "$whl") bytes ($(basename "$whl"))"
echo "installed collage/ $(du -sb "$tmp/installed/collage" | cut -f1) bytes"
echo "installed collage/weights/ $(du -sb "$tmp/installed/collage/weights" | cut -f1) bytes," \
     "$(ls "$tmp"/installed/collage/weights/*.pt | wc -l) checkpoints"
