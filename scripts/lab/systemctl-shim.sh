#!/bin/sh
# A stand-in for systemctl on lab hosts, which run sshd in a chroot without systemd.
# It reads real unit files (/etc/systemd/system/NAME.service, /lib/systemd/system/NAME.service):
# ExecStart= is run in the background with its output in /var/log/NAME.log and its pid in
# /run/ferry-lab/NAME.pid; Environment= lines are exported. Enough for `enable`, `start`, `stop`,
# `restart`, `reload`, `is-active`, `is-enabled`, `status`, `daemon-reload`, so that specs written for
# systemd hosts deploy to lab hosts unchanged. Installed by scripts/lab/lab.sh as /usr/local/bin/systemctl.
set -eu
state=/run/ferry-lab
mkdir -p "$state" /var/lib/ferry-lab/enabled
quiet=
args=
for a in "$@"; do
  case "$a" in
    --quiet|-q) quiet=1 ;;
    --*) ;;
    *) args="$args $a" ;;
  esac
done
set -- $args
cmd=${1:-}; shift || true
unit() { n=${1%.service}; echo "$n"; }
unitfile() {
  for d in /etc/systemd/system /lib/systemd/system /usr/lib/systemd/system; do
    [ -f "$d/$1.service" ] && { echo "$d/$1.service"; return 0; }
  done
  echo "systemctl (lab): unit $1.service not found" >&2; return 5
}
active() { [ -f "$state/$1.pid" ] && kill -0 "$(cat "$state/$1.pid")" 2>/dev/null; }
start() {
  n=$1; f=$(unitfile "$n")
  active "$n" && return 0
  exec_start=$(sed -n 's/^ExecStart=//p' "$f" | head -n1)
  [ -n "$exec_start" ] || { echo "systemctl (lab): $f has no ExecStart=" >&2; return 1; }
  envs=$(sed -n 's/^Environment=//p' "$f" | tr '\n' ' ')
  wd=$(sed -n 's/^WorkingDirectory=//p' "$f" | head -n1)
  ( cd "${wd:-/}" && if [ -n "$envs" ]; then eval "export $envs"; fi; exec setsid sh -c "exec $exec_start" >>"/var/log/$n.log" 2>&1 </dev/null ) &
  echo $! > "$state/$n.pid"
  sleep 0.2
  active "$n" || { echo "systemctl (lab): $n exited at once; see /var/log/$n.log" >&2; tail -n 5 "/var/log/$n.log" >&2; return 1; }
}
stop() {
  n=$1
  if active "$n"; then
    pid=$(cat "$state/$n.pid"); kill "$pid" 2>/dev/null || true
    i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$state/$n.pid"
}
for u in "$@"; do
  n=$(unit "$u")
  case "$cmd" in
    start) start "$n" ;;
    stop) stop "$n" ;;
    restart|reload|try-restart|reload-or-restart) stop "$n"; start "$n" ;;
    is-active) if active "$n"; then [ -n "$quiet" ] || echo active; else [ -n "$quiet" ] || echo inactive; exit 3; fi ;;
    is-enabled) if [ -e "/var/lib/ferry-lab/enabled/$n" ]; then [ -n "$quiet" ] || echo enabled; else [ -n "$quiet" ] || echo disabled; exit 1; fi ;;
    enable) unitfile "$n" >/dev/null; touch "/var/lib/ferry-lab/enabled/$n" ;;
    disable) rm -f "/var/lib/ferry-lab/enabled/$n" ;;
    status) if active "$n"; then echo "$n: active (pid $(cat "$state/$n.pid"))"; else echo "$n: inactive"; exit 3; fi ;;
    *) echo "systemctl (lab): $cmd is not supported" >&2; exit 1 ;;
  esac
done
[ "$cmd" = daemon-reload ] && exit 0
exit 0
