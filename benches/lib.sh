# shellcheck shell=bash
# What every bench shares: the project's lib.sh, a scratch directory, the
# hello example's bundles, and how one run is timed and summarised.
# Sourced by the scripts in benches/.
# shellcheck source-path=SCRIPTDIR source=../scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
require_root
HAKO_BIN="${HAKO_BIN:-$CARGO_TARGET_DIR/release/hako}"
[ -x "$HAKO_BIN" ] || die "no hako at $HAKO_BIN: run scripts/setup.sh first"
EXAMPLES="${HAKO_EXAMPLES:-$HAKO_REPO/examples/out}"

work="$(mktemp -d /tmp/hako-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# median: the median of the numbers on stdin, one per line.
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# timed CMD...: runs CMD with its output discarded; prints "wall user sys"
# in seconds (bash's `time`, 1 ms). CPU is the command's and every process
# it waited for.
timed() {
    local t
    t="$({ TIMEFORMAT='%3R %3U %3S'; time "$@" >/dev/null 2>&1; } 2>&1)"
    printf '%s\n' "$t"
}

# read_back FILE...: drops each file from the page cache and reads it
# back whole, as from disk. A page fault maps up to 16 pages around the
# one it needs, as far as they sit in the same cached folio, so how a
# binary came into the page cache (written by the linker, copied, read
# back) moves the RSS of every process that maps it by up to a megabyte.
# Memory figures are taken with every runtime's binaries read back the
# same way. Needs util-linux-extra (fincore) to check the eviction.
read_back() {
    local f left
    for f in "$@"; do
        sync "$f"
        dd if="$f" iflag=nocache count=0 status=none
        left=$(fincore --bytes --noheadings --output RES "$f" | tr -d " ")
        [ "$left" = 0 ] || die "$f: $left bytes still cached after eviction (mapped by a running process?)"
        cat "$f" >/dev/null
    done
}

# hello_bundle NAME ENGINE [ENV...]: a bundle in $work/NAME running the hello
# example: natively for ENGINE "native", else hello.wasm on ENGINE. Prints
# its directory. Namespaces as a plain `hako spec` minus the network one,
# so that the native and wasm figures differ only in what runs.
hello_bundle() {
    local dir="$work/$1" engine=$2 entry=/app/hello.wasm ann env
    shift 2
    [ "$engine" = native ] && entry=/app/hello
    ann=$(jq -n --arg e "$engine" 'if $e == "native" then {} else {"module.wasm.image/variant": "compat", "run.oci.handler": $e} end')
    env=$(printf '%s\n' PATH=/app "$@" | jq -R . | jq -s .)
    mkdir -p "$dir/rootfs/app" "$dir/rootfs/proc"
    cp "$EXAMPLES/hello" "$EXAMPLES/hello.wasm" "$dir/rootfs/app/"
    jq -n --arg e "$entry" --argjson a "$ann" --argjson env "$env" '{ociVersion: "1.2.1", root: {path: "rootfs"}, annotations: $a,
        process: {args: [$e], cwd: "/", env: $env, user: {uid: 0, gid: 0}},
        mounts: [{destination: "/proc", type: "proc", source: "proc"}],
        linux: {namespaces: [{type: "pid"}, {type: "mount"}, {type: "ipc"}, {type: "uts"}]}}' >"$dir/config.json"
    echo "$dir"
}

# pss_kb PID: the process's proportional set size in kB.
pss_kb() { awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup"; }
