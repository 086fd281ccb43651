#!/usr/bin/env bash
# Remakes the text layouts: runtime/text-layout.order, the functions
# hako's commands run, group by group, and executor-{wasmtime,wasmer}/
# text-layout.order, the plugins' functions on the code pages an idle
# guest maps, then the rest of what a cached run touches. The build scripts give them to the linker so that
# those functions sit together at the start of .text (docs/architecture.md,
# "Text layout").
#
#   scripts/text-layout.sh [--vm] [--only hako|plugins]
#
# For hako:
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
# For each plugin, page-level only (the engines' crates are far too large
# to build twice more): with the plugin on a file system with read-ahead
# off and evicted, the pages an idle guest has mapped once its set-up
# code was let go of (code_pages.rs), then the pages a whole cached run
# touched.
#
# Run it as root after changes that move a lot of code, and commit the
# order files. It must be made by the compiler and the build command CI
# uses (scripts/lib.sh's build_hako): a symbol's name carries its crate's
# features and the compiler version, and names the build lacks are
# skipped. Takes about 5 minutes with --vm once its caches are warm; the
# first coverage build (its own target directory under /var/cache/hako)
# adds about 5 more.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
use_vm=0 only=''
while [ $# -gt 0 ]; do
    case "$1" in
        --vm) use_vm=1 ;;
        --only)
            [ $# -ge 2 ] || die "usage: scripts/text-layout.sh [--vm] [--only hako|plugins]"
            only="$2"
            shift
            ;;
        *) die "usage: scripts/text-layout.sh [--vm] [--only hako|plugins]" ;;
    esac
    shift
done
case "$only" in '' | hako | plugins) ;; *) die "--only: hako or plugins, not '$only'" ;; esac
install_packages jq busybox-static python3 gcc binutils e2fsprogs
ensure_rust
ensure_wasmedge
build_examples
here="$HAKO_REPO/scripts/text-layout"
order="$HAKO_REPO/runtime/text-layout.order"
groups=common,lifecycle,exec,wasm,manage
work="$(mktemp -d /tmp/hako-text-layout.XXXXXX)"
mnt="$work/mnt"
# The committed order files, put back unless the run finishes: a
# half-made layout must not be left in the tree.
orders=("$order" "$HAKO_REPO"/executor-wasmtime/text-layout.order "$HAKO_REPO"/executor-wasmer/text-layout.order)
saved() { echo "$work/saved/$(echo "$1" | tr / _)"; }
mkdir -p "$work/saved"
for f in "${orders[@]}"; do [ ! -f "$f" ] || cp "$f" "$(saved "$f")"; done
finished=0
cleanup() {
    local root id f
    for root in "$work"/*-root "$work"/root; do
        [ -d "$root" ] || continue
        for id in $("$mnt/hako" --root "$root" list -q 2>/dev/null); do
            "$mnt/hako" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
        done
    done
    if mountpoint -q "$mnt"; then umount "$mnt"; fi
    if [ "$finished" != 1 ]; then
        for f in "${orders[@]}"; do
            if [ -f "$(saved "$f")" ]; then cp "$(saved "$f")" "$f"; fi
        done
    fi
    rm -rf "$work"
}
trap cleanup EXIT
export HAKO_EXAMPLES="$HAKO_REPO/examples/out"

# A scratch file system whose read-ahead is off, for page-level profiles.
scratch_fs() {
    mkdir -p "$mnt"
    truncate -s 512M "$work/fs.img"
    mkfs.ext4 -q -F "$work/fs.img"
    mount -o loop "$work/fs.img" "$mnt"
    local device
    device="$(findmnt -no SOURCE "$mnt")"
    echo 0 >"/sys/class/bdi/$(lsblk -no MAJ:MIN "$device" | tr -d ' ')/read_ahead_kb"
}

log "plain build (its engine plugins serve the coverage build too)"
build_hako
plain_dir="$CARGO_TARGET_DIR/$HAKO_PROFILE"
scratch_fs

layout_hako() {
    log "coverage build"
    cov_target=/var/cache/hako/target-layout
    mkdir -p "$cov_target"
    gcc -O2 -fPIC -c "$here/cov.c" -o "$cov_target/cov.o"
    # The crates linked into hako, minus proc macros: cargo's names, as rustc's
    # --crate-name spells them.
    (cd "$HAKO_REPO" && cargo tree --locked -p hako --features hako/wasmedge -e normal,no-proc-macro \
        --prefix none --target "$(rustc -vV | sed -n 's/^host: //p')") | awk '{ print $1 }' | tr - _ | sort -u >"$work/allow"
    # The same packages as build_hako's build of hako, so every crate gets
    # the same features and so the same symbol names; --bin hako skips the
    # WasmEdge plugin.
    # shellcheck disable=SC2086 # the set's words
    (cd "$HAKO_REPO" && CARGO_TARGET_DIR="$cov_target" RUSTC_WRAPPER="$here/rustc-wrap.sh" \
        LAYOUT_ALLOW="$work/allow" LAYOUT_COV_O="$cov_target/cov.o" \
        cargo build --locked --profile "$HAKO_PROFILE" ${HAKO_BUILD_SETS[0]} --bin hako)
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
    cp "$plain_dir/hako" "$plain_dir"/libhako_executor_*.so "$mnt/"
    LAYOUT_PAGES=1 "$here/workload.sh" "$mnt/hako" "$work/pages"
    python3 "$here/order.py" --groups "$groups" --instrumented "$covered/hako" "${profiles[@]}" \
        --paged "$mnt/hako" "$work/pages" >"$work/hako.order"
    mv "$work/hako.order" "$order"
    log "wrote $order ($(wc -l <"$order") functions)"
}

# layout_plugin ENGINE: executor-ENGINE/text-layout.order.
layout_plugin() {
    local engine="$1" plugin dir cache pid
    log "page-level profile of the $engine plugin"
    plugin="$mnt/libhako_executor_$engine.so"
    dir="$work/$engine"
    cache="$work/$engine-cache"
    mkdir -p "$dir/pages" "$cache"
    cp "$plain_dir/hako" "$plain_dir/libhako_executor_$engine.so" "$mnt/"
    # hello, sleeping or not, on ENGINE; the first run fills the cache.
    (cd "$dir" && "$mnt/hako" spec)
    mkdir -p "$dir/rootfs/app" "$dir/rootfs/proc"
    cp "$HAKO_EXAMPLES/hello.wasm" "$dir/rootfs/app/"
    # A writable root, as in benches/: hello writes and reads back a file.
    jq --arg e "$engine" '.root.readonly = false | .process.terminal = false | .process.args = ["/app/hello.wasm"]
        | .annotations = {"module.wasm.image/variant": "compat", "run.oci.handler": $e}' \
        "$dir/config.json" >"$dir/c.json" && mv "$dir/c.json" "$dir/config.json"
    jq '.process.env += ["HELLO_SLEEP=600"]' "$dir/config.json" >"$work/$engine-sleep.json"
    local h=("$mnt/hako" --root "$work/$engine-root")
    HAKO_MODULE_CACHE="$cache" "${h[@]}" run --bundle "$dir" "$engine-warm" >/dev/null 2>&1
    cp "$dir/config.json" "$work/$engine-run.json"

    # Each profiled run gets a root as fresh as a new container's: hello
    # creates its file there (the warm run left one behind, and truncating
    # it runs other code of the engine's file system than creating it).
    cp "$work/$engine-sleep.json" "$dir/config.json"
    rm -f "$dir/rootfs/hello.txt"
    "$here/pages.py" evict "$plugin"
    HAKO_MODULE_CACHE="$cache" "${h[@]}" run -d --bundle "$dir" "$engine-idle" >/dev/null 2>"$work/$engine-idle.err" </dev/null
    pid="$("${h[@]}" state "$engine-idle" | jq -r .pid)"
    # Idle: hello has said its last line and sleeps (state S).
    local tries=0
    until grep -q 'hello stderr' "$work/$engine-idle.err" && [ "$(awk '/^State:/ { print $2 }' "/proc/$pid/status")" = S ]; do
        tries=$((tries + 1))
        [ "$tries" -lt 100 ] || die "$engine: the idle guest never went to sleep"
        sleep 0.1
    done
    "$here/pages.py" mapped "$pid" "$plugin" >"$dir/pages/idle.pages"
    "${h[@]}" delete --force "$engine-idle"

    cp "$work/$engine-run.json" "$dir/config.json"
    rm -f "$dir/rootfs/hello.txt"
    "$here/pages.py" evict "$plugin"
    HAKO_MODULE_CACHE="$cache" "${h[@]}" run --bundle "$dir" "$engine-run" >/dev/null 2>&1
    "$here/pages.py" resident "$plugin" >"$dir/pages/run.pages"
    python3 "$here/order.py" --groups idle,run --paged "$plugin" "$dir/pages" >"$work/$engine.order"
    mv "$work/$engine.order" "$HAKO_REPO/executor-$engine/text-layout.order"
    log "wrote executor-$engine/text-layout.order ($(wc -l <"$HAKO_REPO/executor-$engine/text-layout.order") functions)"
}

[ "$only" = plugins ] || layout_hako
if [ "$only" != hako ]; then
    for engine in wasmtime wasmer; do layout_plugin "$engine"; done
fi
log "final build with the new layouts"
build_hako
finished=1
