#!/usr/bin/env bash
# Starts a local Docker engine for the image target, the way this project's machines need it:
# no iptables, no bridge network (containers use host networking and stay on loopback), and the
# vfs storage driver (works inside containers without overlayfs). Safe to re-run: when an engine
# already answers on the socket it does nothing.
#
#   ci/docker/start-dockerd.sh            # install docker.io if dockerd is missing, start it, wait
#
# Environment: DOCKERD_LOG (default /tmp/dockerd.log), DOCKERD_WAIT_SECONDS (default 60),
# DOCKER_SOCK (default /var/run/docker.sock). Needs root for apt-get and dockerd.
set -euo pipefail

LOG="${DOCKERD_LOG:-/tmp/dockerd.log}"
WAIT="${DOCKERD_WAIT_SECONDS:-60}"
SOCK="${DOCKER_SOCK:-/var/run/docker.sock}"

say() { printf 'start-dockerd: %s\n' "$*" >&2; }

engine_answers() {
  command -v docker >/dev/null 2>&1 && docker -H "unix://$SOCK" version --format '{{.Server.Version}}' >/dev/null 2>&1
}

if [ -S "$SOCK" ] && engine_answers; then
  say "a Docker engine already answers on $SOCK ($(docker -H "unix://$SOCK" version --format '{{.Server.Version}}'))"
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  if ! command -v apt-get >/dev/null 2>&1; then
    say "dockerd is not installed and there is no apt-get here; install a Docker engine yourself"
    exit 1
  fi
  say "dockerd is missing: installing docker.io with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io >/dev/null
fi

# A dockerd of ours that is still starting: wait for it instead of starting a second one.
if ! pgrep -x dockerd >/dev/null 2>&1; then
  # A socket left by an engine that died would make the wait below succeed too early.
  [ -S "$SOCK" ] && rm -f "$SOCK"
  say "starting dockerd (log: $LOG)"
  nohup dockerd --host "unix://$SOCK" --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs >>"$LOG" 2>&1 </dev/null &
  disown || true
fi

for _ in $(seq 1 $((WAIT * 4))); do
  if [ -S "$SOCK" ] && engine_answers; then
    say "Docker engine ready on $SOCK ($(docker -H "unix://$SOCK" version --format '{{.Server.Version}}'))"
    exit 0
  fi
  sleep 0.25
done
say "the Docker engine did not answer on $SOCK within ${WAIT}s; last lines of $LOG:"
tail -n 30 "$LOG" >&2 || true
exit 1
