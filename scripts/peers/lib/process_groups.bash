# Sourced by peer scripts that start daemons in their own process groups (setsid) and
# record each group leader's pid in $PIDS, one per line.
# stop_groups: SIGTERM every group, wait up to 10 s for them to go, SIGKILL what is left.
stop_groups() {
  [ -f "$PIDS" ] || return 0
  while read -r pid; do kill -- -"$pid" 2>/dev/null || true; done < "$PIDS"
  for _ in $(seq 1 20); do
    alive=0; while read -r pid; do kill -0 -- -"$pid" 2>/dev/null && alive=1; done < "$PIDS"
    [ $alive = 0 ] && break; sleep 0.5
  done
  while read -r pid; do kill -9 -- -"$pid" 2>/dev/null || true; done < "$PIDS"
  rm -f "$PIDS"
}
