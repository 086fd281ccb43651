#!/usr/bin/env bash
# Lifecycle speed: `run` of a busybox `true` container (create + start +
# wait + delete) with hako, runc and crun, in one run, and the ratios.
# Needs root, busybox-static, runc, crun and hyperfine (installed if
# missing). HAKO_BIN defaults to the release build.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
require_root
install_packages runc crun hyperfine busybox-static jq
HAKO_BIN="${HAKO_BIN:-$CARGO_TARGET_DIR/release/hako}"
[ -x "$HAKO_BIN" ] || die "no hako at $HAKO_BIN: run scripts/setup.sh first"
RUNS="${RUNS:-50}"

work="$(mktemp -d /tmp/hako-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT
bundle="$work/bundle"
mkdir -p "$bundle/rootfs/bin"
cp /bin/busybox "$bundle/rootfs/bin/busybox"
ln -s busybox "$bundle/rootfs/bin/true"
(cd "$bundle" && "$HAKO_BIN" spec)
# ociVersion 1.0.2: the crun of Debian 12 refuses newer ones.
jq '.ociVersion = "1.0.2" | .process.terminal = false | .process.args = ["/bin/true"]' "$bundle/config.json" > "$bundle/c.json"
mv "$bundle/c.json" "$bundle/config.json"

# crun refuses hybrid cgroup hosts; hide the cgroup2 tree from it in a
# private mount namespace (see the developers' guide).
crun_cmd="crun --root $work/crun"
if [ -e /sys/fs/cgroup/unified/cgroup.controllers ]; then
    : > "$work/empty"
    crun_cmd="unshare -m sh -c 'mount --bind $work/empty /sys/fs/cgroup/unified/cgroup.controllers && crun --root $work/crun \"\$@\"' crun"
fi

hyperfine --warmup 5 --runs "$RUNS" -N --export-json "$work/result.json" \
    -n hako "$HAKO_BIN --root $work/hako run --bundle $bundle bench-hako" \
    -n runc "runc --root $work/runc run --bundle $bundle bench-runc" \
    -n crun "bash -c \"$crun_cmd run --bundle $bundle bench-crun\"" >&2

jq -r '.results[] | "\(.command) \(.mean)"' "$work/result.json" | awk '
    { name[NR] = $1; mean[NR] = $2; if ($1 == "hako") hako = $2 }
    END {
        printf "%-6s %10s %8s\n", "", "mean ms", "vs hako"
        for (i = 1; i <= NR; i++) printf "%-6s %10.2f %7.2fx\n", name[i], mean[i] * 1000, mean[i] / hako
    }'
echo "(crun runs inside unshare -m + bash on hybrid hosts, which adds a few ms to its time)"
