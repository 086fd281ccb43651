#!/usr/bin/env bash
# Lifecycle speed, measured fairly: `run` of a busybox `true` container
# (create + start + wait + delete) with hako, crun and runc, each started
# through the same invocation path, in alternating order, RUNS times.
# Prints the median wall and CPU (user + system, the runtime and every
# process it waited for) time of each, and the ratios to crun and runc.
#
# crun refuses hybrid cgroup hosts, so there every runtime — not only
# crun — runs inside `unshare -m` with the cgroup2 tree's
# cgroup.controllers covered by an empty file; elsewhere none is wrapped.
# Needs root, busybox-static, runc, crun, jq (installed if missing).
# HAKO_BIN defaults to the release build.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
require_root
install_packages runc crun busybox-static jq
HAKO_BIN="${HAKO_BIN:-$CARGO_TARGET_DIR/release/hako}"
[ -x "$HAKO_BIN" ] || die "no hako at $HAKO_BIN: run scripts/setup.sh first"
RUNS="${RUNS:-40}"
WARMUP="${WARMUP:-3}"

work="$(mktemp -d /tmp/hako-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT
bundle="$work/bundle"
mkdir -p "$bundle/rootfs/bin"
cp /bin/busybox "$bundle/rootfs/bin/busybox"
ln -s busybox "$bundle/rootfs/bin/true"
(cd "$bundle" && "$HAKO_BIN" spec)
# ociVersion 1.0.2: the crun of Debian 12 refuses newer ones.
jq '.ociVersion = "1.0.2" | .process.terminal = false | .process.args = ["/bin/true"]' "$bundle/config.json" >"$bundle/c.json"
mv "$bundle/c.json" "$bundle/config.json"

hybrid=0
if [ -e /sys/fs/cgroup/unified/cgroup.controllers ]; then
    hybrid=1
    : >"$work/empty"
fi

# The one invocation path every runtime gets.
invoke() {
    if [ "$hybrid" = 1 ]; then
        unshare -m sh -c 'mount --bind "$0" /sys/fs/cgroup/unified/cgroup.controllers && exec "$@"' "$work/empty" "$@"
    else
        "$@"
    fi
}

command_of() {
    case "$1" in
    hako) echo "$HAKO_BIN --root $work/hako run --bundle $bundle b-$2" ;;
    crun) echo "crun --root $work/crun run --bundle $bundle b-$2" ;;
    runc) echo "runc --root $work/runc run --bundle $bundle b-$2" ;;
    esac
}

# One lifecycle; prints "wall user sys" in seconds (bash's `time`, 1 ms).
once() {
    local rt="$1" n="$2" t
    # shellcheck disable=SC2046 # the command's words
    t="$({ TIMEFORMAT='%3R %3U %3S'; time invoke $(command_of "$rt" "$n") >/dev/null 2>&1; } 2>&1)"
    printf '%s %s\n' "$rt" "$t"
}

runtimes=(hako crun runc)
for rt in "${runtimes[@]}"; do
    for i in $(seq "$WARMUP"); do once "$rt" "w$i" >/dev/null; done
done
: >"$work/times"
for i in $(seq "$RUNS"); do
    # Rotate the order so that no runtime always goes first.
    for k in 0 1 2; do
        rt="${runtimes[$(((i + k) % 3))]}"
        once "$rt" "$i" >>"$work/times"
    done
done

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
for rt in "${runtimes[@]}"; do
    wall=$(awk -v r="$rt" '$1 == r { print $2 * 1000 }' "$work/times" | median)
    cpu=$(awk -v r="$rt" '$1 == r { print ($3 + $4) * 1000 }' "$work/times" | median)
    echo "$rt $wall $cpu"
done >"$work/medians"

awk -v runs="$RUNS" -v hybrid="$hybrid" '
    { name[NR] = $1; wall[$1] = $2; cpu[$1] = $3 }
    END {
        printf "%d runs each, medians; every runtime %s\n", runs,
            hybrid ? "inside unshare -m with cgroup.controllers covered (hybrid host)" : "started directly"
        printf "%-6s %9s %9s %12s %12s %12s %12s\n", "", "wall ms", "cpu ms", "wall/crun", "cpu/crun", "wall/runc", "cpu/runc"
        for (i = 1; i <= NR; i++) {
            n = name[i]
            printf "%-6s %9.1f %9.1f %11.2fx %11.2fx %11.2fx %11.2fx\n", n, wall[n], cpu[n],
                wall[n] / wall["crun"], cpu[n] / cpu["crun"], wall[n] / wall["runc"], cpu[n] / cpu["runc"]
        }
    }' "$work/medians"
