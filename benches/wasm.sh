#!/usr/bin/env bash
# WebAssembly start and stop: `hako run` of the hello example natively and
# on each engine (create + compile + start + run + delete), and the time
# from `hako kill -s TERM` to exit for a guest in a busy loop.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
require_root
install_packages hyperfine jq busybox-static
HAKO_BIN="${HAKO_BIN:-$CARGO_TARGET_DIR/release/hako}"
out="$HAKO_REPO/examples/out"
[ -x "$HAKO_BIN" ] && [ -f "$out/hello.wasm" ] || die "run scripts/setup.sh first"
RUNS="${RUNS:-20}"

work="$(mktemp -d /tmp/hako-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT
bundle() {
    local dir="$work/$1" entry=$2 ann=$3
    mkdir -p "$dir/rootfs/app"
    cp "$out/hello" "$out/hello.wasm" "$dir/rootfs/app/"
    jq -n --arg e "$entry" --argjson a "$ann" '{ociVersion: "1.2.1", root: {path: "rootfs"}, annotations: $a,
        process: {args: [$e], cwd: "/", env: ["PATH=/app"], user: {uid: 0, gid: 0}},
        mounts: [{destination: "/proc", type: "proc", source: "proc"}],
        linux: {namespaces: [{type: "pid"}, {type: "mount"}, {type: "ipc"}, {type: "uts"}]}}' > "$dir/config.json"
    echo "$dir"
}
args=(-n native "$HAKO_BIN --root $work/s run --bundle $(bundle native /app/hello '{}') b-native")
for e in wasmtime wasmedge wasmer; do
    args+=(-n "$e" "$HAKO_BIN --root $work/s run --bundle $(bundle "$e" /app/hello.wasm "{\"run.oci.handler\": \"$e\"}") b-$e")
done
hyperfine --warmup 2 --runs "$RUNS" -N --export-json "$work/start.json" --output=null "${args[@]}" >&2
jq -r '.results[] | "\(.command) \(.mean)"' "$work/start.json" | awk '
    { name[NR] = $1; mean[NR] = $2; if ($1 == "native") base = $2 }
    END { printf "%-9s %10s %10s\n", "run of", "mean ms", "vs native"
          for (i = 1; i <= NR; i++) printf "%-9s %10.2f %9.2fx\n", name[i], mean[i] * 1000, mean[i] / base }'

echo
echo "SIGTERM to exit, guest in a busy loop (ms, 5 tries each):"
for e in wasmtime wasmedge wasmer; do
    dir=$(bundle "spin-$e" /app/hello.wasm "{\"run.oci.handler\": \"$e\"}")
    jq '.process.env += ["HELLO_SPIN=1"]' "$dir/config.json" > "$dir/c" && mv "$dir/c" "$dir/config.json"
    times=()
    for i in 1 2 3 4 5; do
        "$HAKO_BIN" --root "$work/s" run --bundle "$dir" "spin-$e" > /dev/null 2>&1 &
        runner=$!
        until [ "$("$HAKO_BIN" --root "$work/s" state "spin-$e" 2>/dev/null | jq -r .status)" = running ]; do sleep 0.01; done
        sleep 0.2
        t0=$(date +%s%N)
        "$HAKO_BIN" --root "$work/s" kill "spin-$e" TERM
        wait $runner || true
        times+=($(( ($(date +%s%N) - t0) / 1000000 )))
    done
    printf '%-9s %s\n' "$e" "${times[*]}"
done
