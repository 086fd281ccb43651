#!/usr/bin/env bash
# hako's end-to-end tests in the test VM (Debian 12, systemd PID 1, pure
# cgroup v2): the host has neither, our users have both.
#
#   scripts/vm/test.sh                     # the default test binaries (below)
#   HAKO_VM_TESTS="lifecycle cgroups" scripts/vm/test.sh
#   HAKO_VM_TESTS=all scripts/vm/test.sh   # every hako-tests binary
#   HAKO_VM_TEST_ARGS="oom --exact" ...     # passed to each test binary
#   HAKO_VM_TEST_TIMEOUT=600               # seconds per test binary
#
# Stages the hako binary ($HAKO_BIN, else $CARGO_TARGET_DIR/$HAKO_PROFILE/
# hako, which must be built already) with its plugin and private
# libwasmedge (vm_stage_hako in lib.sh), the hako-tests binaries (built
# here with `cargo test --no-run` if needed) and examples/out; runs them in the
# guest with HAKO_BIN and HAKO_EXAMPLES set, and prints pass/fail per test.
# Exits non-zero if a test failed or the VM did not run them.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The binaries worth the VM's time by default (scripts/test.sh runs them):
# the cgroup v2 paths that differ under systemd, resource limits, errors,
# isolation, the systemd cgroup driver, and the real clients with their
# systemd defaults: podman (rootful, compared with crun, and rootless in
# the user's own systemd session) and containerd (SystemdCgroup). lifecycle's killed-create test is flaky
# under TCG (its timing), so it runs with HAKO_VM_TESTS=all only.
DEFAULT_TESTS="cgroups commands errors isolation resources systemd podman rootless_podman containerd"
HAKO_VM_TESTS="${HAKO_VM_TESTS:-$DEFAULT_TESTS}"

# Another cargo (the build of hako itself) holds the target directory's
# lock; waiting here says why nothing happens instead of blocking silently.
wait_for_other_cargo() {
    local waited=0
    while pgrep -x cargo >/dev/null; do
        [ $((waited % 60)) -ne 0 ] || log "waiting for the running cargo to finish ($(pgrep -ax cargo | head -n1))"
        sleep 10
        waited=$((waited + 10))
    done
}

# name<TAB>path of each end-to-end test binary, built if needed.
test_binaries() {
    wait_for_other_cargo
    log "cargo test --no-run --workspace --all-features ($HAKO_PROFILE)"
    # The same feature set as scripts/test.sh: `-p hako-tests` alone would
    # unify features differently and rebuild hako from scratch.
    (cd "$HAKO_REPO" && cargo test --locked --profile "$HAKO_PROFILE" --workspace --all-features --no-run --message-format=json) |
        jq -r 'select(.reason == "compiler-artifact" and .executable != null and .target.kind == ["test"]
                      and (.package_id | contains("hako-tests")))
               | "\(.target.name)\t\(.executable)"'
}

stage_tests() {
    local stage="$1" list name path want found=0
    list="$(test_binaries)"
    [ -n "$list" ] || die "cargo test --no-run -p hako-tests: listed no test binaries"
    mkdir -p "$stage/tests"
    while IFS=$'\t' read -r name path; do
        want=" $HAKO_VM_TESTS "
        [ "$HAKO_VM_TESTS" = all ] || [[ "$want" == *" $name "* ]] || continue
        [ -x "$path" ] || die "$path: test binary missing after cargo test --no-run"
        cp "$path" "$stage/tests/$name"
        found=$((found + 1))
    done <<<"$list"
    # Tests that use the repository find it from CARGO_MANIFEST_DIR (the
    # tests crate): its scripts go along (cli's install.sh test).
    mkdir -p "$stage/repo/tests"
    cp -a "$HAKO_REPO/scripts" "$stage/repo/scripts"
    rm -rf "$stage/repo/scripts/vm"
    [ "$found" -gt 0 ] || die "no hako-tests binary matches HAKO_VM_TESTS=$HAKO_VM_TESTS (have: $(cut -f1 <<<"$list" | tr '\n' ' '))"
    for name in $HAKO_VM_TESTS; do
        [ "$name" = all ] || [ -f "$stage/tests/$name" ] || die "HAKO_VM_TESTS: no hako-tests binary named $name"
    done
}

# What runs in the guest, from its copy of the stage.
write_job() {
    local stage="$1"
    cat >"$stage/job.sh" <<'EOF'
#!/bin/bash
# Runs each staged hako-tests binary; per-binary logs and a summary go to
# $HAKO_VM_OUT for the host.
set -uo pipefail
job="$PWD"
# shellcheck source=/dev/null # written by test.sh next to this file
. "$job/env.sh"
# shellcheck source=/dev/null # written by vm_stage_hako (lib.sh)
. "$job/hako-env.sh"
export CARGO_MANIFEST_DIR="$job/repo/tests"
echo "cgroup controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
echo "$("$HAKO_BIN" --version 2>&1 | head -n1); $(podman --version)"
if ldd "$HAKO_BIN" | grep 'not found'; then
    echo "error: $HAKO_BIN: missing shared libraries in the guest"
    exit 1
fi
: >"$HAKO_VM_OUT/summary"
status=0
for t in "$job"/tests/*; do
    name="$(basename "$t")"
    echo "=== $name"
    start=$(date +%s)
    # A hung test costs one binary, not the whole run: the others still
    # report.
    # shellcheck disable=SC2086 # HAKO_VM_TEST_ARGS is a word list
    timeout --kill-after=10 "$HAKO_VM_TEST_TIMEOUT" \
        "$t" --test-threads="$HAKO_VM_TEST_THREADS" ${HAKO_VM_TEST_ARGS:-} 2>&1 | tee "$HAKO_VM_OUT/$name.log"
    rc=${PIPESTATUS[0]}
    [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] ||
        echo "error: $t: timed out after ${HAKO_VM_TEST_TIMEOUT}s" | tee -a "$HAKO_VM_OUT/$name.log"
    printf '%s\t%s\t%s\n' "$name" "$rc" "$(($(date +%s) - start))" >>"$HAKO_VM_OUT/summary"
    [ "$rc" -eq 0 ] || status=1
done
exit "$status"
EOF
    # The host's settings reach the guest as a file: the runner starts
    # the job with a clean environment.
    printf 'HAKO_VM_TEST_THREADS=%q\nHAKO_VM_TEST_ARGS=%q\nHAKO_VM_TEST_TIMEOUT=%q\n' \
        "${HAKO_VM_TEST_THREADS:-2}" "${HAKO_VM_TEST_ARGS:-}" "${HAKO_VM_TEST_TIMEOUT:-600}" >"$stage/env.sh"
}

# pass/fail per test from the libtest output of each binary; a binary
# that ended without its result line counts as one failure.
report() {
    local files="$1" passed=0 failed=0 name rc secs log
    [ -s "$files/summary" ] || die "$files/summary: the guest ran no test binary"
    printf '\n%-12s %-8s %6s  %s\n' binary status time failed-tests >&2
    while IFS=$'\t' read -r name rc secs; do
        log="$files/$name.log"
        local p f
        p="$(grep -cE '^test .* \.\.\. ok$' "$log" || true)"
        f="$(grep -cE '^test .* \.\.\. FAILED$' "$log" || true)"
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
        passed=$((passed + p))
        failed=$((failed + f))
        printf '%-12s %-8s %5ss  %s\n' "$name" "$([ "$rc" -eq 0 ] && echo ok || echo "FAIL($rc)")" "$secs" \
            "$(grep -E '^test .* \.\.\. FAILED$' "$log" | sed -E 's/^test (.*) \.\.\. FAILED$/\1/' | tr '\n' ' ')" >&2
    done <"$files/summary"
    echo "vm: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}

main() {
    require_root
    local start=$SECONDS bin="${HAKO_BIN:-$CARGO_TARGET_DIR/$HAKO_PROFILE/hako}"
    "$HAKO_VM_DIR/image.sh" >/dev/null
    mkdir -p "$HAKO_VM_RUNS"
    local stage run
    stage="$(mktemp -d "$HAKO_VM_RUNS/stage.XXXXXX")"
    # The guest's job directory keeps this mode: users must reach hako.
    chmod 0755 "$stage"
    run="$(mktemp -d "$HAKO_VM_RUNS/run.XXXXXX")"
    # shellcheck disable=SC2064 # expand now
    trap "rm -rf '$stage'" EXIT
    stage_tests "$stage"
    vm_stage_hako "$stage" "$bin"
    write_job "$stage"
    log "running $(find "$stage/tests" -type f -printf '%f ')in the VM ($(du -sh "$stage" | cut -f1) staged)"
    local rc=0
    "$HAKO_VM_DIR/run.sh" --out "$run" "$stage" || rc=$?
    [ -s "$run/files/summary" ] || vm_die "$run: the VM run left no test results (run.sh status $rc)"
    if ! report "$run/files" && [ "$rc" -eq 0 ]; then rc=1; fi
    log "vm tests done in $((SECONDS - start))s (logs: $run/files)"
    return "$rc"
}

main "$@"
