#!/usr/bin/env bash
# The commands whose code scripts/text-layout.sh places together, the way
# podman and containerd's runc shim call a runtime: natively and for wasm,
# each group of commands recorded in its own profile.
#
#   workload.sh HAKO OUT [--systemd-cgroup]
#
# HAKO is an instrumented hako, or a plain one for a page-level profile.
# Each group runs with HAKO_COV_MAP=OUT/GROUP.map, where the instrumented
# binary records the functions it ran. With LAYOUT_PAGES=1, HAKO's pages
# are evicted from the page cache before each group and the ones read
# back are appended to OUT/GROUP.pages (pages.py; HAKO must be on a file
# system with read-ahead off). HAKO_EXAMPLES (default examples/out) holds
# hello.wasm. Every container is removed at the end.
set -euo pipefail
hako="$1" out="$2"
flags=()
[ -z "${3:-}" ] || flags=("$3")
examples="${HAKO_EXAMPLES:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/examples/out}"
[ -x "$hako" ] || { echo "error: $hako: not an executable" >&2; exit 1; }
[ -f "$examples/hello.wasm" ] || { echo "error: $examples/hello.wasm: missing (run examples/build.sh)" >&2; exit 1; }
mkdir -p "$out"
work="$(mktemp -d /tmp/hako-layout.XXXXXX)"
root="$work/root"
log=(--log "$work/log.json" --log-format json)
h() { "$hako" --root "$root" "${flags[@]}" "$@"; }
cleanup() {
    local id
    for id in $(h list -q 2>/dev/null); do h delete --force "$id" >/dev/null 2>&1; done
    rm -rf "$work"
}
trap cleanup EXIT

# A busybox bundle running true, one running sleep, and hello.wasm per engine.
bundle="$work/true"
mkdir -p "$bundle/rootfs/bin"
cp /bin/busybox "$bundle/rootfs/bin/busybox"
ln -s busybox "$bundle/rootfs/bin/true"
(cd "$bundle" && "$hako" spec)
jq '.process.terminal = false | .process.args = ["/bin/true"]' "$bundle/config.json" >"$work/c" && mv "$work/c" "$bundle/config.json"
sleeper="$work/sleep"
mkdir -p "$sleeper"
jq --arg r "$bundle/rootfs" '.root.path = $r | .process.args = ["/bin/busybox", "sleep", "1000"]' "$bundle/config.json" >"$sleeper/config.json"
engines=(wasmtime wasmedge wasmer)
for e in "${engines[@]}"; do
    mkdir -p "$work/$e/rootfs/app"
    cp "$examples/hello.wasm" "$work/$e/rootfs/app/"
    jq --arg e "$e" --arg r "$work/$e/rootfs" '.root.path = $r | .process.args = ["/app/hello.wasm"]
        | .annotations = {"module.wasm.image/variant": "compat", "run.oci.handler": $e}' "$bundle/config.json" >"$work/$e/config.json"
done

pages_py="$(dirname "${BASH_SOURCE[0]}")/pages.py"
current=''
group() {
    if [ "${LAYOUT_PAGES:-0}" = 1 ]; then
        [ -z "$current" ] || "$pages_py" resident "$hako" >>"$out/$current.pages"
        "$pages_py" evict "$hako"
    fi
    current="$1"
    export HAKO_COV_MAP="$out/$1.map"
}
for i in 1 2; do
    # What every command runs: arguments, logging, the state directory.
    group common
    if h state "none$i" 2>/dev/null; then echo "error: state of a missing container succeeded" >&2; exit 1; fi
    "$hako" --version >/dev/null
    h list >/dev/null

    # A container's life as podman drives it, and `run`.
    group lifecycle
    h "${log[@]}" create --bundle "$bundle" --pid-file "$work/pid" "c$i"
    h state "c$i" >/dev/null
    h "${log[@]}" start "c$i"
    sleep 0.2
    h state "c$i" >/dev/null
    h "${log[@]}" delete "c$i"
    h run --bundle "$bundle" "r$i"
    h run -d --bundle "$sleeper" "s$i" </dev/null

    group exec
    h exec "s$i" /bin/true
    h "${log[@]}" exec --detach --pid-file "$work/epid" "s$i" /bin/busybox sleep 1

    group manage
    h ps "s$i" >/dev/null
    h list --format json >/dev/null
    h events --stats "s$i" >/dev/null
    h pause "s$i"
    h resume "s$i"
    h update --pids-limit 100 "s$i"
    h "${log[@]}" kill "s$i" KILL
    for _ in $(seq 50); do
        [ "$(h state "s$i" | jq -r .status)" = stopped ] && break
        sleep 0.1
    done
    h "${log[@]}" delete "s$i"
    h features >/dev/null

    group wasm
    for e in "${engines[@]}"; do h run --bundle "$work/$e" "w$e$i" >/dev/null 2>"$work/stderr"; done
done
group end
