#!/usr/bin/env bash
# Installs everything hako needs on a fresh Debian 12 machine (idempotent)
# and builds the hako binary with all three engines and the examples.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
setup_all
log "hako is at $HAKO_BIN"
