#!/usr/bin/env bash
# Runs a command in a network namespace of its own whose only interface is loopback, so that no
# server or client the tests start (the local control plane dialling a chart's webhook, a tool
# phoning home) can reach any address off this machine. Needs root (CI runs as root); elsewhere,
# or with MERIDIAN_TEST_NETNS=off, the command runs as it is and says so.
set -euo pipefail
if [[ "${MERIDIAN_TEST_NETNS:-on}" != off && ${EUID} -eq 0 ]] && unshare --net true 2>/dev/null; then
  exec unshare --net -- bash -c 'ip link set lo up && exec "$@"' loopback-only "$@"
fi
echo "loopback-only: not root (or MERIDIAN_TEST_NETNS=off): running without a network namespace" >&2
exec "$@"
