#!/usr/bin/env bash
# Lint the GitHub Actions workflows in .github/workflows:
#   zizmor (security audit, offline, default persona) and
#   check-jsonschema (GitHub's workflow schema, vendored in the package;
#   and the Dependabot schema for .github/dependabot.yml).
#
# Usage: scripts/check_workflows.sh [VENV]
#   VENV  a virtualenv to install the two linters into (e.g. .venv);
#         without it a throwaway one is made and removed afterwards.
# Exits non-zero on any finding or schema error.
#
# The linter versions are pinned so that a new zizmor audit cannot turn CI
# red on its own; bump them here on purpose. Override with ZIZMOR_VERSION /
# CHECK_JSONSCHEMA_VERSION.
set -euo pipefail

ZIZMOR_VERSION="${ZIZMOR_VERSION:-1.32.0}"
CHECK_JSONSCHEMA_VERSION="${CHECK_JSONSCHEMA_VERSION:-0.39.0}"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${root}"

venv="${1:-}"
if [ -z "${venv}" ]; then
  venv="$(mktemp -d "${TMPDIR:-/tmp}/check-workflows.XXXXXX")"
  trap 'rm -rf "${venv}"' EXIT
fi
if [ ! -x "${venv}/bin/python" ]; then
  "${PYTHON:-python3}" -m venv "${venv}"
fi

"${venv}/bin/python" -m pip install -qq --disable-pip-version-check \
  "zizmor==${ZIZMOR_VERSION}" "check-jsonschema==${CHECK_JSONSCHEMA_VERSION}"

shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
if [ "${#workflows[@]}" -eq 0 ]; then
  echo "Error: no workflow files in .github/workflows" >&2
  exit 1
fi

status=0
echo "== zizmor $("${venv}/bin/zizmor" --version | awk '{print $2}') (offline)"
"${venv}/bin/zizmor" --offline --no-progress --color never .github/workflows || status=1
echo "== check-jsonschema (vendor.github-workflows)"
"${venv}/bin/check-jsonschema" --builtin-schema vendor.github-workflows "${workflows[@]}" || status=1
if [ -f .github/dependabot.yml ]; then
  echo "== check-jsonschema (vendor.dependabot)"
  "${venv}/bin/check-jsonschema" --builtin-schema vendor.dependabot .github/dependabot.yml || status=1
fi

if [ "${status}" -ne 0 ]; then
  echo "Error: workflow checks failed (see above)" >&2
fi
exit "${status}"
