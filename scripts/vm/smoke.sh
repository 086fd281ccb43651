#!/usr/bin/env bash
# A quick look at hako where our users run it: boots the test VM and runs
# smoke-guest.sh there (cgroup v2 only, systemd running, a busybox bundle
# with memory and pids limits, podman on hako with the systemd cgroup
# manager). HAKO_BIN as for test.sh. Exits non-zero if a check failed.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

main() {
    require_root
    local bin="${HAKO_BIN:-$CARGO_TARGET_DIR/$HAKO_PROFILE/hako}" stage
    mkdir -p "$HAKO_VM_RUNS"
    stage="$(mktemp -d "$HAKO_VM_RUNS/stage.XXXXXX")"
    # The guest's job directory keeps this mode: users must reach hako.
    chmod 0755 "$stage"
    # shellcheck disable=SC2064 # expand now
    trap "rm -rf '$stage'" EXIT
    vm_stage_hako "$stage" "$bin"
    cp "$HAKO_VM_DIR/smoke-guest.sh" "$stage/job.sh"
    "$HAKO_VM_DIR/run.sh" "$@" "$stage"
}

main "$@"
