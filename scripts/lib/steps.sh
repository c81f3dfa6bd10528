# Shared by scripts/setup.sh and scripts/setup-tests.sh: one line per step on the terminal,
# every command's own output in one log file, named (with its last lines) when a step fails.
#
#   step NAME COMMAND...      run COMMAND now; print "NAME ... ok (N s)" or fail
#   step_bg NAME COMMAND...   start COMMAND in the background (its own log part)
#   step_wait NAME            wait for a background step; print its line or fail

SETUP_LOG="${GPTOSS_SETUP_LOG:-${TMPDIR:-/tmp}/gptoss-agent-$(basename "$0" .sh).log}"
: >"$SETUP_LOG"
declare -A _STEP_PID=() _STEP_START=() _STEP_LOG=()

_step_line() {  # NAME STATUS SECONDS
  printf '%-44s %s (%s s)\n' "$1" "$2" "$3"
}

_step_failed() {  # NAME LOGPART
  _step_line "$1" FAILED "$(( SECONDS - ${_STEP_START[$1]:-$SECONDS} ))"
  echo "  last lines of the log ($SETUP_LOG):" >&2
  tail -n 15 "$2" | sed 's/^/  | /' >&2
  exit 1
}

step() {
  local name="$1"; shift
  _STEP_START[$name]=$SECONDS
  echo "== $name" >>"$SETUP_LOG"
  if "$@" >>"$SETUP_LOG" 2>&1; then
    _step_line "$name" ok "$(( SECONDS - _STEP_START[$name] ))"
  else
    _step_failed "$name" "$SETUP_LOG"
  fi
}

step_bg() {
  local name="$1"; shift
  local part
  part="$(mktemp "${TMPDIR:-/tmp}/gptoss-setup-step.XXXXXX")"
  _STEP_START[$name]=$SECONDS
  _STEP_LOG[$name]="$part"
  "$@" >"$part" 2>&1 &
  _STEP_PID[$name]=$!
}

step_wait() {
  local name="$1" part="${_STEP_LOG[$1]}" status=0
  wait "${_STEP_PID[$name]}" || status=$?
  { echo "== $name"; cat "$part"; } >>"$SETUP_LOG"
  rm -f "$part"
  if [ "$status" -ne 0 ]; then
    _step_failed "$name" "$SETUP_LOG"
  fi
  _step_line "$name" ok "$(( SECONDS - _STEP_START[$name] ))"
}

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "$1: must run as root (installs system packages and starts dockerd)" >&2
    exit 1
  fi
}

pip_quiet() {
  python -m pip install --disable-pip-version-check --progress-bar off "$@"
}
