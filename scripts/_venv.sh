# Sourced by the other scripts: make .venv exist and hold the project (and, with DEV=1, its test tools).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
VENV="$ROOT/.venv"
if [ ! -x "$VENV/bin/python" ]; then
  echo "creating $VENV" >&2
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
fi
STAMP="$VENV/.agentrun-installed"
EXTRAS=""
[ "${DEV:-0}" = "1" ] && EXTRAS="[dev]"
# Reinstall when pyproject.toml or the lock changed since the last install (or the extras differ).
# requirements.lock (scripts/lock) pins every package to the versions the suite last passed with.
LOCK="$ROOT/requirements.lock"
WANT="$({ cat "$ROOT/pyproject.toml"; cat "$LOCK" 2>/dev/null || true; } | sha256sum | cut -c1-16)$EXTRAS"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
  echo "installing agentrun$EXTRAS into $VENV (first run takes a minute or two)" >&2
  CONSTRAINTS=()
  [ -f "$LOCK" ] && CONSTRAINTS=(-c "$LOCK")
  "$VENV/bin/python" -m pip install -q "${CONSTRAINTS[@]}" -e "$ROOT$EXTRAS"
  echo "$WANT" > "$STAMP"
fi
