#!/usr/bin/env bash
# Lifecycle speed, measured fairly: `run` of a busybox `true` container
# (create + start + wait + delete) with hako, crun and runc, each started
# through the same invocation path, in alternating order, RUNS times;
# then `exec` of `true` into a running container, each after a PAUSE
# (default 0.1 s, not timed), since execs on a node come apart (probes,
# `kubectl exec`), not back to back. Prints the median wall and CPU
# (user + system, the runtime and every process it waited for) time of
# each, and the ratios to crun and runc; then the peak RSS of `create`,
# `state` and `run` of each (GNU time), every binary read back from disk
# first (lib.sh's read_back).
#
# crun refuses hybrid cgroup hosts, so there every runtime — not only
# crun — runs inside `unshare -m` with the cgroup2 tree's
# cgroup.controllers covered by an empty file; elsewhere none is wrapped.
# Needs root, busybox-static, runc, crun, jq, time, fincore (installed if
# missing).
# HAKO_BIN defaults to the release build.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
install_packages runc crun busybox-static jq time
# fincore, for read_back: in util-linux-extra on Debian 12, util-linux on
# older releases.
command -v fincore >/dev/null || install_packages util-linux-extra
RUNS="${RUNS:-40}"
WARMUP="${WARMUP:-3}"
PAUSE="${PAUSE:-0.1}"

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
        # shellcheck disable=SC2016 # for the inner sh
        unshare -m sh -c 'mount --bind "$0" /sys/fs/cgroup/unified/cgroup.controllers && exec "$@"' "$work/empty" "$@"
    else
        "$@"
    fi
}

# bin_of RUNTIME: the binary to start for it.
bin_of() {
    if [ "$1" = hako ]; then echo "$HAKO_BIN"; else echo "$1"; fi
}

command_of() {
    echo "$(bin_of "$1") --root $work/$1 run --bundle $bundle b-$2"
}

# One lifecycle; prints "RUNTIME wall user sys".
once() {
    # shellcheck disable=SC2046 # the command's words
    echo "$1 $(timed invoke $(command_of "$1" "$2"))"
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

# summarise TIMES WHAT: the table of medians and ratios of one figure.
summarise() {
    local rt wall cpu
    for rt in "${runtimes[@]}"; do
        wall=$(awk -v r="$rt" '$1 == r { print $2 * 1000 }' "$1" | median)
        cpu=$(awk -v r="$rt" '$1 == r { print ($3 + $4) * 1000 }' "$1" | median)
        echo "$rt $wall $cpu"
    done >"$work/medians"
    awk -v runs="$RUNS" -v hybrid="$hybrid" -v what="$2" '
        { name[NR] = $1; wall[$1] = $2; cpu[$1] = $3 }
        END {
            printf "%s: %d runs each, medians; every runtime %s\n", what, runs,
                hybrid ? "inside unshare -m with cgroup.controllers covered (hybrid host)" : "started directly"
            printf "%-6s %9s %9s %12s %12s %12s %12s\n", "", "wall ms", "cpu ms", "wall/crun", "cpu/crun", "wall/runc", "cpu/runc"
            for (i = 1; i <= NR; i++) {
                n = name[i]
                printf "%-6s %9.1f %9.1f %11.2fx %11.2fx %11.2fx %11.2fx\n", n, wall[n], cpu[n],
                    wall[n] / wall["crun"], cpu[n] / cpu["crun"], wall[n] / wall["runc"], cpu[n] / cpu["runc"]
            }
        }' "$work/medians"
}
summarise "$work/times" "run (create + start + wait + delete)"

# exec: one sleeping container per runtime, started on the same path.
sleeper="$work/sleeper"
mkdir -p "$sleeper"
# runc refuses a rootfs that is a symbolic link.
jq --arg r "$bundle/rootfs" '.root.path = $r | .process.args = ["/bin/busybox", "sleep", "1000"]' "$bundle/config.json" >"$sleeper/config.json"
# remove_sleepers: deletes them (also when the bench stops on an error).
remove_sleepers() {
    local rt
    for rt in "${runtimes[@]}"; do
        invoke "$(bin_of "$rt")" --root "$work/$rt" delete --force "x-$rt" >/dev/null 2>&1
    done
    return 0
}
trap 'remove_sleepers; rm -rf "$work"' EXIT
exec_once() {
    sleep "$PAUSE"
    echo "$1 $(timed invoke "$(bin_of "$1")" --root "$work/$1" exec "x-$1" /bin/true)"
}
for rt in "${runtimes[@]}"; do
    invoke "$(bin_of "$rt")" --root "$work/$rt" run -d --bundle "$sleeper" "x-$rt" >/dev/null </dev/null ||
        die "$rt: could not start the container to exec into"
    exec_once "$rt" >/dev/null
done
: >"$work/exec-times"
for i in $(seq "$RUNS"); do
    for k in 0 1 2; do
        exec_once "${runtimes[$(((i + k) % 3))]}" >>"$work/exec-times"
    done
done
remove_sleepers
echo
summarise "$work/exec-times" "exec of true, each after a ${PAUSE} s pause"

# Peak RSS (GNU time's maximum resident set, the runtime and what it
# waited for) of `create`, `state` and `run`, median of 5, on the same path,
# with every runtime's binary read back from disk first.
read_back "$HAKO_BIN" "$(command -v crun)" "$(command -v runc)"
echo
echo "peak RSS, MB (median of 5, binaries read back from disk):"
printf '%-6s %8s %8s %8s\n' "" create state run
for rt in "${runtimes[@]}"; do
    rt_bin=$(bin_of "$rt")
    for step in create state run; do
        for i in 1 2 3 4 5; do
            id="m-$step-$i"
            root="$work/$rt"
            case "$step" in
            create) cmd=("$rt_bin" --root "$root" create --bundle "$bundle" "$id") ;;
            state) cmd=("$rt_bin" --root "$root" state "m-create-$i") ;;
            run) cmd=("$rt_bin" --root "$root" run --bundle "$bundle" "$id") ;;
            esac
            invoke /usr/bin/time -f %M -o "$work/rss" "${cmd[@]}" >/dev/null 2>&1 </dev/null
            cat "$work/rss"
        done | median | awk '{ printf " %8.1f", $1 / 1024 }'
    done
    echo
    for i in 1 2 3 4 5; do invoke "$rt_bin" --root "$work/$rt" delete --force "m-create-$i" >/dev/null 2>&1; done
done | awk -v names="${runtimes[*]}" 'BEGIN { split(names, n, " ") } { printf "%-6s%s\n", n[NR], $0 }'
