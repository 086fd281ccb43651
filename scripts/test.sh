#!/usr/bin/env bash
# The test command: set up, then formatting, lints, and every test of the
# workspace with all engines — unit tests, the engines' own tests, and the
# end-to-end tests that run real containers through the hako binary — and
# then the end-to-end tests of cgroups, errors, isolation, resources and
# rootless podman again in the test VM (systemd, pure cgroup v2).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
setup_all
cd "$HAKO_REPO"

log "cargo fmt --check"
cargo fmt --all --check
log "cargo clippy (all crates, all engines)"
cargo clippy --locked --workspace --all-targets --all-features -- -D warnings

export HAKO_EXAMPLES="$HAKO_REPO/examples/out"
log "cargo test (all crates, all engines; HAKO_BIN=$HAKO_BIN)"
cargo test --locked --profile "$HAKO_PROFILE" --workspace --all-features -- --test-threads="${HAKO_TEST_THREADS:-4}"

# The hosts users have: systemd as PID 1 and pure cgroup v2, in the test
# VM (docs/vm.md): the same test binaries, run inside the guest.
log "end-to-end tests in the test VM (systemd, pure cgroup v2)"
"$HAKO_REPO/scripts/vm/test.sh"
log "all tests passed"
