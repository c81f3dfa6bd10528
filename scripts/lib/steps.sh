# Shared by scripts/setup.sh and scripts/setup-tests.sh: one line per step on the terminal,
# every command's own output in one log file, named (with its last lines) when a step fails.
#
#   start_log                 begin the log file (after the root check)
#   step NAME COMMAND...      run COMMAND now; print "NAME ok (N s)" or fail
#   step_bg NAME COMMAND...   start COMMAND in the background (its own log part)
#   step_wait NAME            wait for a background step; print its line or fail
#
# On any exit, background steps still running are stopped and their output joins the log,
# so a failed set-up never leaves an apt or pip process holding its locks.

SETUP_LOG="${GPTOSS_SETUP_LOG:-${TMPDIR:-/tmp}/gptoss-agent-$(basename "$0" .sh).log}"
declare -A _STEP_PID=() _STEP_START=() _STEP_LOG=()

start_log() {
  : >"$SETUP_LOG"
  trap _steps_cleanup EXIT
}

_steps_cleanup() {
  local name
  for name in "${!_STEP_PID[@]}"; do
    kill -- "-${_STEP_PID[$name]}" 2>/dev/null || kill "${_STEP_PID[$name]}" 2>/dev/null || true
    wait "${_STEP_PID[$name]}" 2>/dev/null || true
    { echo "== $name (stopped: the set-up ended before it)"; cat "${_STEP_LOG[$name]}"; } \
      >>"$SETUP_LOG" 2>/dev/null || true
    rm -f "${_STEP_LOG[$name]}"
  done
}

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
  set -m  # its own process group, so cleanup stops its children too
  "$@" >"$part" 2>&1 &
  _STEP_PID[$name]=$!
  set +m
}

step_wait() {
  local name="$1" part="${_STEP_LOG[$1]}" status=0
  wait "${_STEP_PID[$name]}" || status=$?
  unset "_STEP_PID[$name]"
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

install_extra() {  # NAME: the requirements of one optional-dependency group of pyproject
  local listed
  listed="$(python scripts/lib/extra.py "$1")" || return 1
  local -a requirements
  mapfile -t requirements <<<"$listed"
  pip_quiet "${requirements[@]}"
}
