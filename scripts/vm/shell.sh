#!/usr/bin/env bash
# An interactive root shell in the test VM: scripts/vm/shell.sh [DIR]
# (DIR is mounted read-only at /hako). Exit the shell to power off.
exec "$(dirname "${BASH_SOURCE[0]}")/run.sh" --shell "$@"
