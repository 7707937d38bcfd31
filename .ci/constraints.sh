#!/usr/bin/env bash
# constraints.sh - regenerate constraints.txt: the exact versions of the runtime dependencies that pip resolves
# for pyproject.toml now (no test extra). Run after changing the dependencies, then run the tests in a venv
# installed with `pip install -c constraints.txt -e '.[test]'` before committing the new pins.
#   .ci/constraints.sh [PYTHON]      (default: .venv/bin/python)
set -Eeuo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${1:-$ROOT/.venv/bin/python}
REPORT=$(mktemp)
trap 'rm -f "$REPORT"' EXIT
"$PY" -m pip install --dry-run --ignore-installed --quiet --report "$REPORT" "$ROOT"
{
  sed -n '/^#/p' "$ROOT/constraints.txt"
  "$PY" - "$REPORT" <<'PY'
import json, sys
installed = json.load(open(sys.argv[1]))["install"]
for meta in sorted((i["metadata"] for i in installed), key=lambda m: m["name"].lower()):
    if meta["name"] != "monitor":
        print(f"{meta['name']}=={meta['version']}")
PY
} > "$ROOT/constraints.txt.new"
mv "$ROOT/constraints.txt.new" "$ROOT/constraints.txt"
echo "constraints.txt: $(grep -vc '^#' "$ROOT/constraints.txt") pins" >&2
