#!/usr/bin/env bash
# Density and throughput: N idle containers (a sleeping hello) created and
# started back to back with `hako run -d`, natively and on each engine,
# the module cached. Prints containers per second, failures, and the
# memory of the running inits (PSS: shared pages split between sharers),
# in total and per container; then deletes them all and checks that
# nothing is left.
#
#   N=200 benches/density.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
install_packages jq busybox-static
N="${N:-200}"
kinds=(native wasmtime wasmedge wasmer)
cache="$work/cache"
root="$work/s"

printf '%-9s %8s %7s %8s %14s %12s\n' "" started failed "per sec" "PSS MB total" "PSS MB each"
for k in "${kinds[@]}"; do
    dir=$(hello_bundle "$k" "$k" HELLO_SLEEP=3600)
    # Fills the module cache, so every container below loads it.
    HAKO_MODULE_CACHE="$cache" "$HAKO_BIN" --root "$root" run --bundle "$(hello_bundle "warm-$k" "$k")" "warm-$k" >/dev/null 2>&1 ||
        die "$k: the warm-up run failed"
    failed=0
    t0=$(date +%s%N)
    for i in $(seq "$N"); do
        HAKO_MODULE_CACHE="$cache" "$HAKO_BIN" --root "$root" run -d --bundle "$dir" "d-$k-$i" >/dev/null 2>"$work/err" </dev/null ||
            { failed=$((failed + 1)); [ "$failed" = 1 ] && sed "s/^/$k: /" "$work/err" >&2; }
    done
    t1=$(date +%s%N)
    sleep 2
    pss=0
    started=0
    for pid in $("$HAKO_BIN" --root "$root" list --format json | jq -r '.[] | select(.status == "running") | .pid'); do
        pss=$((pss + $(pss_kb "$pid")))
        started=$((started + 1))
    done
    awk -v k="$k" -v s="$started" -v f="$failed" -v ns=$((t1 - t0)) -v n="$N" -v p="$pss" \
        'BEGIN { printf "%-9s %8d %7d %8.1f %14.1f %12.2f\n", k, s, f, n / (ns / 1e9), p / 1024, (s ? p / s : 0) / 1024 }'
    for id in $("$HAKO_BIN" --root "$root" list --format json | jq -r '.[].id'); do
        "$HAKO_BIN" --root "$root" delete --force "$id" || die "deleting $id failed"
    done
    left=$("$HAKO_BIN" --root "$root" list --format json | jq length)
    [ "$left" = 0 ] || die "$k: $left containers left after delete"
done
