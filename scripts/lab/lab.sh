#!/usr/bin/env bash
# ferry's air-gapped lab: N test hosts on this machine, each
#   - a network namespace (ferry-lab-I) whose only link is a veth pair to the runner:
#     runner 10.203.I.1/30 <-> host 10.203.I.2/30, no default route, no forwarding;
#   - its own root filesystem: an overlay whose lower layer is a base root (the runner's own /,
#     read-only, or LAB_BASE_ROOT, e.g. an unpacked rootfs artifact) and whose upper layer is private;
#   - sshd running chrooted into that root, in new mount, PID and UTS namespaces.
# A host reaches the runner (and so `ferry serve`) and nothing else.
#
# usage: lab.sh up N | down | status | env
#   up N     (re)create hosts 1..N; idempotent: a crashed lab is cleaned first
#   down     remove every lab resource (namespaces, mounts, processes, folders), even after a crash
#   status   one line per host: address, sshd, and proof of isolation
#   env      print LAB_* variables (ssh config, key, known_hosts) for scripts and tests
# Needs root. Everything it creates is named after LAB_NAME (default ferry-lab) so `down` finds it.
# Environment: LAB_NAME, LAB_NET (first two octets, default 10.203), LAB_IFPREFIX (default flab),
# LAB_DIR (default /var/tmp/LAB_NAME), LAB_BASE_ROOT (lower layer of every host's root, default /).
set -euo pipefail

# several labs may run side by side (parallel tests, two test runs): each needs its own name, subnet and
# link prefix; the tests and the demo derive all three from a subnet claimed by claimLabNet.mjs
SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
PREFIX=${LAB_NAME:-ferry-lab}
NET=${LAB_NET:-10.203}
IFP=${LAB_IFPREFIX:-flab}
LAB_DIR=${LAB_DIR:-/var/tmp/$PREFIX}
LAB_BASE_ROOT=${LAB_BASE_ROOT:-/}

die() { echo "lab: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, mounts)"

host_ns() { echo "$PREFIX-$1"; }
runner_if() { echo "$IFP$1r"; }
runner_ip() { echo "$NET.$1.1"; }
host_ip() { echo "$NET.$1.2"; }

down() {
  # processes first (sshd and anything deploys started inside), then mounts, then namespaces
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$PREFIX-" || true); do
    for pid in $(ip netns pids "$ns" 2>/dev/null || true); do kill -9 "$pid" 2>/dev/null || true; done
  done
  if [ -d "$LAB_DIR" ]; then
    for pidfile in "$LAB_DIR"/host*/unshare.pid; do
      [ -f "$pidfile" ] && kill -9 "$(cat "$pidfile")" 2>/dev/null || true
    done
  fi
  # unmount deepest first
  for m in $(awk -v d="$LAB_DIR/" 'index($2, d) == 1 {print $2}' /proc/self/mounts | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$PREFIX-" || true); do ip netns del "$ns" 2>/dev/null || true; done
  for l in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep "^$IFP[0-9]*r\$" || true); do ip link del "$l" 2>/dev/null || true; done
  rm -rf "$LAB_DIR"
}

up_host() {
  local i=$1 ns root dir
  ns=$(host_ns "$i"); dir="$LAB_DIR/host$i"; root="$dir/root"
  mkdir -p "$dir/upper" "$dir/work" "$root"
  mount -t overlay "$PREFIX-host$i" -o "lowerdir=$LAB_BASE_ROOT,upperdir=$dir/upper,workdir=$dir/work" "$root"
  # a clean identity and state for this host
  rm -rf "$root/var/lib/ferry" "$root/etc/ssh/ssh_host_"* "$root/root/.ssh" "$root$LAB_DIR" 2>/dev/null || true
  mkdir -p "$root$LAB_DIR" "$root/root/.ssh" "$root/run/sshd" "$root/var/lib/ferry"
  chmod 700 "$root/root/.ssh"
  cp "$LAB_DIR/id_ed25519.pub" "$root/root/.ssh/authorized_keys"
  echo "lab$i" > "$root/etc/hostname"
  # root logs in to /bin/sh: sshd runs every command with the login shell, and bash would first run
  # the runner's start-up files (/etc/bash.bashrc, ~/.bashrc: pyenv init and the like, which change
  # PATH and python3 and may block); sh -c reads none
  sed -i -E 's#^(root:[^:]*:[^:]*:[^:]*:[^:]*:[^:]*):[^:]*$#\1:/bin/sh#' "$root/etc/passwd"
  # no systemd in a chroot: a stand-in that runs real unit files' ExecStart= (see systemctl-shim.sh)
  install -m 0755 "$SCRIPT_DIR/systemctl-shim.sh" "$root/usr/local/bin/systemctl"
  ssh-keygen -q -t ed25519 -N '' -f "$root/etc/ssh/ssh_host_ed25519_key" -C "lab$i"
  cat > "$root/etc/ssh/sshd_config.lab" <<CFG
ListenAddress $(host_ip "$i")
Port 22
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitUserEnvironment no
PermitUserRC no
PidFile /run/sshd.pid
MaxSessions 64
MaxStartups 64:30:128
Subsystem sftp internal-sftp
CFG
  echo "$(host_ip "$i") $(cut -d' ' -f1,2 "$root/etc/ssh/ssh_host_ed25519_key.pub")" >> "$LAB_DIR/known_hosts"

  ip netns add "$ns"
  ip link add "$(runner_if "$i")" type veth peer name eth0 netns "$ns"
  ip addr add "$(runner_ip "$i")/30" dev "$(runner_if "$i")"
  ip link set "$(runner_if "$i")" up
  ip -n "$ns" addr add "$(host_ip "$i")/30" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up

  # sshd chrooted into the host's root, with its own mount, PID and UTS namespaces
  ip netns exec "$ns" unshare --mount --pid --uts --fork --propagation private sh -c "
    hostname lab$i
    mount -t proc proc '$root/proc'
    mount --rbind /dev '$root/dev'
    mount -t sysfs sysfs '$root/sys' 2>/dev/null || true
    mount -t tmpfs tmpfs '$root/run'
    mount -t tmpfs tmpfs '$root/tmp'
    mkdir -p '$root/run/sshd'
    exec chroot '$root' /usr/sbin/sshd -D -e -f /etc/ssh/sshd_config.lab
  " >"$dir/sshd.log" 2>&1 &
  echo $! > "$dir/unshare.pid"
}

# Wait for as long as the host's sshd is alive: on a busy machine it may take long to start, so only its
# death is a failure; the 10-minute bound is a hang detector, not an estimate.
wait_ssh() {
  local i=$1 pid; pid=$(cat "$LAB_DIR/host$i/unshare.pid")
  local until=$((SECONDS + 600))
  while ! ssh -F "$LAB_DIR/ssh_config" -o ConnectTimeout=10 "lab$i" true 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || die "host lab$i: sshd exited: $(tail -n 3 "$LAB_DIR/host$i/sshd.log" | tr '\n' ' ')"
    [ $SECONDS -lt $until ] || die "host lab$i: sshd alive but not answering after 10 minutes (see $LAB_DIR/host$i/sshd.log)"
    sleep 0.2
  done
}

# Another lab (or any network of this machine) on the same subnet would shadow ours: refuse to build.
# Labs that tests and the demo build get a subnet of their own from scripts/lab/claimLabNet.mjs.
check_net_free() {
  local used
  used=$( { ip -o -4 addr show; ip -4 route show table all; } 2>/dev/null | grep -E "(^|[^0-9.])${NET//./\\.}\.[0-9]+\.[0-9]+" | head -n 1 || true)
  [ -z "$used" ] || die "subnet $NET.0.0/16 is already in use on this machine ($used); set LAB_NET to a free one, or take the other lab down"
}

up() {
  local n=${1:-3}
  [[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 60 ] || die "up takes a host count from 1 to 60"
  command -v sshd >/dev/null || [ -x /usr/sbin/sshd ] || die "sshd missing: apt-get install openssh-server"
  down
  check_net_free
  mkdir -p "$LAB_DIR"
  ssh-keygen -q -t ed25519 -N '' -f "$LAB_DIR/id_ed25519" -C ferry-lab
  : > "$LAB_DIR/known_hosts"
  {
    for i in $(seq 1 "$n"); do
      printf 'Host lab%s\n  HostName %s\n  User root\n' "$i" "$(host_ip "$i")"
    done
    printf 'Host lab*\n  IdentityFile %s/id_ed25519\n  IdentitiesOnly yes\n  UserKnownHostsFile %s/known_hosts\n  StrictHostKeyChecking yes\n  BatchMode yes\n' "$LAB_DIR" "$LAB_DIR"
  } > "$LAB_DIR/ssh_config"
  echo "$n" > "$LAB_DIR/count"
  for i in $(seq 1 "$n"); do up_host "$i"; done
  for i in $(seq 1 "$n"); do wait_ssh "$i"; done
  echo "lab: $n host(s) up; ssh -F $LAB_DIR/ssh_config lab1"
}

status() {
  [ -f "$LAB_DIR/count" ] || { echo "lab: down"; return 0; }
  local n; n=$(cat "$LAB_DIR/count")
  for i in $(seq 1 "$n"); do
    local ns; ns=$(host_ns "$i")
    local sshd=down isolated=no
    ssh -F "$LAB_DIR/ssh_config" -o ConnectTimeout=10 "lab$i" true 2>/dev/null && sshd=up
    # no route to anything but the runner's /30: the kernel refuses at once, nothing is sent
    # and a connection to an address in the lab range that is not its runner fails with "Network is unreachable" too
    if ! ip netns exec "$ns" ip route get 192.0.2.1 >/dev/null 2>&1 &&
       ! ip netns exec "$ns" timeout 2 bash -c "echo > /dev/tcp/$(host_ip $(( n + 1 )))/22" 2>/dev/null; then isolated=yes; fi
    echo "lab$i $(host_ip "$i") runner=$(runner_ip "$i") sshd=$sshd isolated=$isolated"
  done
}

case "${1:-}" in
  up) up "${2:-3}" ;;
  down) down; echo "lab: down" ;;
  status) status ;;
  env) echo "LAB_DIR=$LAB_DIR"; echo "LAB_SSH_CONFIG=$LAB_DIR/ssh_config"; echo "LAB_COUNT=$(cat "$LAB_DIR/count" 2>/dev/null || echo 0)" ;;
  *) sed -n '2,20p' "$0"; exit 64 ;;
esac
