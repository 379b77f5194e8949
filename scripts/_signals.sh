# Sourced by the scripts: Ctrl-C and SIGTERM stop the running step cleanly and end the script with one line.
#
#   run_mae CMD...   a mae-ort command (or a script that sources this file): on a signal it keeps what it
#                    finished and prints its own "interrupted: ..." line, so the script adds none
#   run CMD...       any other command: on a signal the script prints the line (INTERRUPTED says what
#                    to rerun; default: the same command)
# The exit code is 130 after Ctrl-C (SIGINT), 143 after SIGTERM.  A step runs in the background while the
# script waits for it, so that SIGTERM (which reaches the script alone) is forwarded at once instead of
# after the step; the step's SIGINT handling is restored (bash makes background commands ignore it).
_step_pid=""
_step_says=0
_on_signal() {  # _on_signal NAME CODE
  trap - INT TERM
  local said=0
  if [ -n "$_step_pid" ]; then
    kill -"$1" "$_step_pid" 2>/dev/null || true
    local rc=0
    wait "$_step_pid" 2>/dev/null || rc=$?
    if [ "$_step_says" = 1 ] && { [ "$rc" = 130 ] || [ "$rc" = 143 ]; }; then said=1; fi
  fi
  if [ "$said" = 0 ]; then
    echo "interrupted: ${0##*/} stopped by SIG$1; ${INTERRUPTED:-rerun the same command}" >&2
  fi
  exit "$2"
}
trap '_on_signal INT 130' INT
trap '_on_signal TERM 143' TERM

_run() {
  _step_says="$1"; shift
  ( trap - INT QUIT; exec "$@" ) <&0 &  # <&0: keep stdin (a here-document), not /dev/null
  _step_pid=$!
  local rc=0
  wait "$_step_pid" || rc=$?
  _step_pid=""
  return "$rc"
}
run() { _run 0 "$@"; }
run_mae() { _run 1 "$@"; }
