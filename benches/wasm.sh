#!/usr/bin/env bash
# WebAssembly against native, with the hello example (prints, writes a
# file, exits): what a wasm container costs on each engine.
#
#   RUNS=20 benches/wasm.sh
#
# 1. start: `hako run` (create, compile or load, start, wait, delete),
#    native and on each engine in alternating order, with the compiled
#    module cached, then with the cache off (every run compiles): medians
#    of wall and CPU time, and the ratios to native;
# 2. peak RSS of that `hako run` (GNU time's maximum resident set, over
#    hako and everything it waited for), median of 5;
# 3. idle guests (a sleeping hello): one alone (PSS, RSS, threads of its
#    init), and the mean PSS per container with 10 running; 2 and 3
#    with hako and its plugins read back from disk (lib.sh's read_back);
# 4. SIGTERM to exit for a guest in a busy loop.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
install_packages jq busybox-static time
# fincore, for read_back: in util-linux-extra on Debian 12, util-linux on
# older releases.
command -v fincore >/dev/null || install_packages util-linux-extra
RUNS="${RUNS:-20}"
kinds=(native wasmtime wasmedge wasmer)
cache="$work/cache"

run_cmd() { # KIND N [CACHE]: one `hako run` of KIND's bundle
    HAKO_MODULE_CACHE="${3:-$cache}" "$HAKO_BIN" --root "$work/s" run --bundle "$work/$1" "r-$1-$2"
}
for k in "${kinds[@]}"; do hello_bundle "$k" "$k" >/dev/null; done

start_figures() { # LABEL CACHE
    local label=$1 c=$2 i j k
    for k in "${kinds[@]}"; do run_cmd "$k" w "$cache" >/dev/null 2>&1; done
    : >"$work/times"
    for i in $(seq "$RUNS"); do
        for j in 0 1 2 3; do
            k="${kinds[$(((i + j) % 4))]}"
            echo "$k $(timed run_cmd "$k" "$i" "$c")" >>"$work/times"
        done
    done
    echo "$label: $RUNS runs each, medians"
    for k in "${kinds[@]}"; do
        echo "$k $(awk -v k="$k" '$1 == k { print $2 * 1000 }' "$work/times" | median) $(awk -v k="$k" '$1 == k { print ($3 + $4) * 1000 }' "$work/times" | median)"
    done | awk '{ n[NR] = $1; w[NR] = $2; c[NR] = $3 }
        END { printf "%-9s %9s %9s %10s %10s\n", "run of", "wall ms", "cpu ms", "wall/nat", "cpu/nat"
              for (i = 1; i <= NR; i++) printf "%-9s %9.1f %9.1f %9.2fx %9.2fx\n", n[i], w[i], c[i], w[i] / w[1], c[i] / c[1] }'
}
start_figures "start, module cached" "$cache"
echo
start_figures "start, cache off (each run compiles)" off

echo
# Memory with hako and its engine plugins read back from disk (read_back):
# the plugins next to the binary, else in ../lib/hako, where hako looks.
plugins=()
for d in "$(dirname "$HAKO_BIN")" "$(dirname "$HAKO_BIN")/../lib/hako"; do
    for f in "$d"/libhako_executor_*.so; do [ -e "$f" ] && plugins+=("$f"); done
    [ "${#plugins[@]}" = 0 ] || break
done
[ "${#plugins[@]}" -gt 0 ] || die "$(dirname "$HAKO_BIN"): no libhako_executor_*.so next to hako or in ../lib/hako"
read_back "$HAKO_BIN" "${plugins[@]}"
echo "peak RSS of hako run (MB, median of 5, binaries read back from disk):"
for k in "${kinds[@]}"; do
    for i in 1 2 3 4 5; do
        /usr/bin/time -f %M -o "$work/rss" env HAKO_MODULE_CACHE="$cache" "$HAKO_BIN" --root "$work/s" run --bundle "$work/$k" "m-$k-$i" >/dev/null 2>&1
        cat "$work/rss"
    done | median | awk -v k="$k" '{ printf "%-9s %6.1f\n", k, $1 / 1024 }'
done

echo
echo "idle guests (a sleeping hello):"
printf '%-9s %14s %14s %8s %18s\n' "" "alone PSS MB" "alone RSS MB" threads "PSS MB each of 10"
for k in "${kinds[@]}"; do
    dir=$(hello_bundle "idle-$k" "$k" HELLO_SLEEP=600)
    ids=()
    for i in $(seq 10); do
        HAKO_MODULE_CACHE="$cache" "$HAKO_BIN" --root "$work/s" run -d --bundle "$dir" "idle-$k-$i" >/dev/null 2>&1 </dev/null ||
            die "starting idle-$k-$i failed"
        ids+=("idle-$k-$i")
        if [ "$i" = 1 ]; then
            sleep 1
            pid=$("$HAKO_BIN" --root "$work/s" state "idle-$k-1" | jq -r .pid)
            alone_pss=$(pss_kb "$pid")
            alone_rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
            threads=$(awk '/^Threads:/ { print $2 }' "/proc/$pid/status")
        fi
    done
    sleep 1
    total=0
    for id in "${ids[@]}"; do
        pid=$("$HAKO_BIN" --root "$work/s" state "$id" | jq -r .pid)
        total=$((total + $(pss_kb "$pid")))
    done
    awk -v k="$k" -v p="$alone_pss" -v r="$alone_rss" -v t="$threads" -v s="$total" \
        'BEGIN { printf "%-9s %14.1f %14.1f %8s %18.1f\n", k, p / 1024, r / 1024, t, s / 10 / 1024 }'
    for id in "${ids[@]}"; do "$HAKO_BIN" --root "$work/s" delete --force "$id"; done
done

echo
echo "SIGTERM to exit, guest in a busy loop (ms, 5 tries each):"
for e in wasmtime wasmedge wasmer; do
    dir=$(hello_bundle "spin-$e" "$e" HELLO_SPIN=1)
    times=()
    for i in 1 2 3 4 5; do
        HAKO_MODULE_CACHE="$cache" "$HAKO_BIN" --root "$work/s" run --bundle "$dir" "spin-$e" >/dev/null 2>&1 &
        runner=$!
        until [ "$("$HAKO_BIN" --root "$work/s" state "spin-$e" 2>/dev/null | jq -r .status)" = running ]; do sleep 0.01; done
        sleep 0.2
        t0=$(date +%s%N)
        "$HAKO_BIN" --root "$work/s" kill "spin-$e" TERM
        wait $runner || true
        times+=($((($(date +%s%N) - t0) / 1000000)))
    done
    printf '%-9s %s\n' "$e" "${times[*]}"
done
