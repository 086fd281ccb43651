#!/usr/bin/env bash
# Remakes runtime/text-layout.order: the functions hako's commands run,
# group by group, which runtime/build.rs gives the linker so that they
# sit together at the start of .text (docs/architecture.md, "Text layout").
#
#   scripts/text-layout.sh [--vm]
#
# 1. A coverage build of hako (rustc-wrap.sh, cov.c) runs workload.sh and
#    records every function it enters, exactly. With --vm, the workload
#    also runs in the test VM (systemd, pure cgroup v2, --systemd-cgroup),
#    which reaches the cgroup v2 and D-Bus code this hybrid host cannot.
# 2. The precompiled standard library is not instrumented: a plain build
#    linked with step 1's layout runs the workload again from a file
#    system with read-ahead off, and the functions on the text pages it
#    touched (outside the instrumented ones) are added.
# 3. The final layout is written and hako rebuilt with it.
#
# Run it as root after changes that move a lot of code, and commit the
# order file. It must be made by the compiler and the build command CI
# uses (scripts/lib.sh's build_hako): a symbol's name carries its crate's
# features and the compiler version, and names the build lacks are
# skipped. Takes 15-30 minutes (the coverage build is a separate target
# directory under /var/cache/hako).
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
use_vm=0
case "${1:-}" in
    --vm) use_vm=1 ;;
    '') ;;
    *) die "usage: scripts/text-layout.sh [--vm]" ;;
esac
install_packages jq busybox-static python3 gcc binutils e2fsprogs
ensure_rust
ensure_wasmedge
build_examples
here="$HAKO_REPO/scripts/text-layout"
order="$HAKO_REPO/runtime/text-layout.order"
groups=common,lifecycle,exec,wasm,manage
work="$(mktemp -d /tmp/hako-text-layout.XXXXXX)"
mnt="$work/mnt"
cleanup() {
    if mountpoint -q "$mnt"; then umount "$mnt"; fi
    rm -rf "$work"
}
trap cleanup EXIT
export HAKO_EXAMPLES="$HAKO_REPO/examples/out"

log "plain build (its engine plugins serve the coverage build too)"
build_hako
plain_dir="$CARGO_TARGET_DIR/$HAKO_PROFILE"

log "coverage build"
cov_target=/var/cache/hako/target-layout
mkdir -p "$cov_target"
gcc -O2 -fPIC -c "$here/cov.c" -o "$cov_target/cov.o"
# The crates linked into hako, minus proc macros: cargo's names, as rustc's
# --crate-name spells them.
(cd "$HAKO_REPO" && cargo tree --locked -p hako --features hako/wasmedge -e normal,no-proc-macro \
    --prefix none --target "$(rustc -vV | sed -n 's/^host: //p')") | awk '{ print $1 }' | tr - _ | sort -u >"$work/allow"
# The same packages as build_hako, so every crate gets the same features
# and so the same symbol names; --bin hako skips the engines' own crates.
(cd "$HAKO_REPO" && CARGO_TARGET_DIR="$cov_target" RUSTC_WRAPPER="$here/rustc-wrap.sh" \
    LAYOUT_ALLOW="$work/allow" LAYOUT_COV_O="$cov_target/cov.o" \
    cargo build --locked --profile "$HAKO_PROFILE" -p hako --features hako/wasmedge -p hako-executor-wasmtime \
    -p hako-executor-wasmedge -p hako-executor-wasmer --bin hako)
covered="$work/covered"
mkdir -p "$covered"
cp "$cov_target/$HAKO_PROFILE/hako" "$covered/hako"
cp "$plain_dir"/libhako_executor_*.so "$covered/"

log "coverage workload on this host"
"$here/workload.sh" "$covered/hako" "$work/host"
profiles=("$work/host")
if [ "$use_vm" = 1 ]; then
    log "coverage workload in the test VM"
    # shellcheck source=scripts/vm/lib.sh
    source "$HAKO_REPO/scripts/vm/lib.sh"
    job="$work/job"
    vm_stage_hako "$job/stage" "$plain_dir/hako"
    cp "$covered/hako" "$job/stage/bin/hako"
    cp "$here/workload.sh" "$here/pages.py" "$job/"
    cat >"$job/job.sh" <<'JOB'
#!/bin/bash
set -euo pipefail
cd "$(dirname "$0")"
source stage/hako-env.sh
# The profiles are shared mappings: written on the guest's own disk (the
# control share does not keep what a shared mapping writes), then copied.
./workload.sh "$HAKO_BIN" /var/tmp/hako-layout --systemd-cgroup
cp -r /var/tmp/hako-layout "$HAKO_VM_OUT/vm"
JOB
    chmod +x "$job/job.sh"
    "$HAKO_REPO/scripts/vm/run.sh" --out "$work/vm-run" "$job"
    profiles+=("$work/vm-run/files/vm")
fi
python3 "$here/order.py" --groups "$groups" --instrumented "$covered/hako" "${profiles[@]}" >"$work/exact.order"

log "page-level workload for the standard library's functions"
cp "$work/exact.order" "$order"
build_hako
mkdir -p "$mnt"
truncate -s 512M "$work/fs.img"
mkfs.ext4 -q -F "$work/fs.img"
mount -o loop "$work/fs.img" "$mnt"
device="$(findmnt -no SOURCE "$mnt")"
echo 0 >"/sys/class/bdi/$(lsblk -no MAJ:MIN "$device" | tr -d ' ')/read_ahead_kb"
cp "$plain_dir/hako" "$plain_dir"/libhako_executor_*.so "$mnt/"
LAYOUT_PAGES=1 "$here/workload.sh" "$mnt/hako" "$work/pages"
python3 "$here/order.py" --groups "$groups" --instrumented "$covered/hako" "${profiles[@]}" \
    --paged "$mnt/hako" "$work/pages" >"$order"

log "final build with the new layout"
build_hako
log "wrote $order ($(wc -l <"$order") functions)"
