#!/bin/bash
# The smoke job smoke.sh runs in the guest, from its stage: the system is
# what our users have (systemd PID 1, cgroup v2 only), hako runs a busybox
# bundle with limits, and podman runs an image built here with buildah on
# hako with podman's default (systemd) cgroup manager. Each check prints
# the commands' own output; the closing lines say what passed.
set -uo pipefail
# shellcheck source=/dev/null # written by vm_stage_hako (lib.sh)
. ./hako-env.sh

passed=0 failed=0 results=()
check() {
    local name="$1"
    shift
    printf '\n--- %s\n$ %s\n' "$name" "$*"
    "$@"
    local rc=$?
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1)) results+=("ok    $name")
    else
        failed=$((failed + 1)) results+=("FAIL  $name (status $rc)")
    fi
}

only_cgroup2() {
    cat /sys/fs/cgroup/cgroup.controllers
    grep ' cgroup' /proc/mounts
    ! grep -q ' cgroup ' /proc/mounts && grep -q ' /sys/fs/cgroup cgroup2 ' /proc/mounts
}

systemd_running() {
    echo "PID 1: $(cat /proc/1/comm)"
    timeout 300 systemctl is-system-running --wait
}

versions() {
    podman --version && buildah --version && crun --version | head -n1 &&
        runc --version | head -n1 && "$HAKO_BIN" --version
}

# busybox-static with its applets as links, the rootfs of every container
# here.
busybox_rootfs() {
    mkdir -p "$1/bin"
    cp /bin/busybox "$1/bin/"
    chroot "$1" /bin/busybox --install -s /bin
}

make_bundle() {
    local b="$1" script="$2"
    rm -rf "$b"
    mkdir -p "$b"
    busybox_rootfs "$b/rootfs"
    (cd "$b" && "$HAKO_BIN" spec) || return 1
    jq --arg s "$script" '.process.args = ["sh", "-c", $s] | .process.terminal = false
        | .linux.resources.memory.limit = 67108864 | .linux.resources.pids.limit = 50' \
        "$b/config.json" >"$b/config.json.new" && mv "$b/config.json.new" "$b/config.json"
}

hako_run_limits() {
    local out
    make_bundle /root/b1 'cat /sys/fs/cgroup/memory.max; echo ok' || return 1
    out="$("$HAKO_BIN" run --bundle /root/b1 c1 2>&1)"
    local rc=$?
    printf '%s\n' "$out"
    [ "$rc" -eq 0 ] && grep -qx 67108864 <<<"$out" && grep -qx ok <<<"$out"
}

# The cgroup of a created container's init, seen from the host.
cgroup_of_created() {
    local id="$1" pid
    pid="$("$HAKO_BIN" state "$id" | jq -r .pid)" || return 1
    sed 's/^0:://' "/proc/$pid/cgroup"
}

# The cgroupfs driver: cgroupsPath as a path, limits in its files.
hako_cgroupfs_where() {
    local cg rc=0
    make_bundle /root/b2 'sleep 60' || return 1
    jq '.linux.cgroupsPath = "/hako-smoke/c2"' /root/b2/config.json >/root/b2/c.json &&
        mv /root/b2/c.json /root/b2/config.json
    "$HAKO_BIN" create --bundle /root/b2 c2 || return 1
    cg="$(cgroup_of_created c2)"
    echo "init in $cg: memory.max $(cat "/sys/fs/cgroup$cg/memory.max"), pids.max $(cat "/sys/fs/cgroup$cg/pids.max")"
    [ "$cg" = /hako-smoke/c2 ] || rc=1
    "$HAKO_BIN" delete --force c2
    return "$rc"
}

# The systemd driver: runc's slice:prefix:name, which must become a
# transient scope unit systemd knows, with the limits as its properties.
hako_systemd_where() {
    local cg rc=0
    make_bundle /root/b3 'sleep 60' || return 1
    jq '.linux.cgroupsPath = "system.slice:hako:c3"' /root/b3/config.json >/root/b3/c.json &&
        mv /root/b3/c.json /root/b3/config.json
    "$HAKO_BIN" --systemd-cgroup create --bundle /root/b3 c3 || return 1
    cg="$(cgroup_of_created c3)"
    echo "init in $cg"
    systemctl show -p ActiveState -p MemoryMax -p TasksMax hako-c3.scope
    [ "$cg" = /system.slice/hako-c3.scope ] || rc=1
    [ "$(systemctl is-active hako-c3.scope)" = active ] || rc=1
    "$HAKO_BIN" --systemd-cgroup delete --force c3
    return "$rc"
}

buildah_image() {
    local ctr
    busybox_rootfs /root/image-rootfs || return 1
    ctr="$(buildah from scratch)" || return 1
    buildah copy "$ctr" /root/image-rootfs / >/dev/null &&
        buildah config --cmd sh "$ctr" &&
        buildah commit --quiet "$ctr" localhost/busybox:vm &&
        buildah rm "$ctr" >/dev/null
}

# The reference: podman's own default runtime (crun), same image.
podman_crun() {
    podman run --rm --network none localhost/busybox:vm echo hi
}

podman_hako() {
    podman --runtime "$HAKO_BIN" run --rm --network none localhost/busybox:vm echo hi
}

# Where podman's systemd cgroup manager puts a container (cgroupsPath
# machine.slice:libpod:<id>), for a runtime: a libpod-<id>.scope unit.
podman_where() {
    local runtime="$1" id pid cg rc=0
    id="$(podman --runtime "$runtime" run -d --network none --memory 64m localhost/busybox:vm sleep 60)" || return 1
    pid="$(podman inspect -f '{{.State.Pid}}' "$id")"
    cg="$(sed 's/^0:://' "/proc/$pid/cgroup")"
    echo "$runtime: init in $cg, memory.max $(cat "/sys/fs/cgroup$cg/memory.max")"
    systemctl show -p ActiveState -p MemoryMax "libpod-$id.scope"
    [[ "$cg" == /machine.slice/libpod-"$id".scope* ]] || rc=1
    [ "$(systemctl is-active "libpod-$id.scope")" = active ] || rc=1
    podman rm -f -t 0 "$id" >/dev/null
    return "$rc"
}

podman_hako_cgroupfs() {
    podman --cgroup-manager cgroupfs --runtime "$HAKO_BIN" run --rm --network none localhost/busybox:vm echo hi
}

podman_hako_default_network() {
    podman --runtime "$HAKO_BIN" run --rm localhost/busybox:vm echo hi
}

check "cgroup v2 only" only_cgroup2
check "systemd is PID 1 and running" systemd_running
check "versions" versions
check "hako run: memory.max 64MiB" hako_run_limits
check "hako cgroupfs driver: placement and limits" hako_cgroupfs_where
check "hako systemd driver: a scope unit" hako_systemd_where
check "buildah: image from scratch" buildah_image
check "podman run (crun, systemd cgroups)" podman_crun
check "podman --runtime hako run (systemd cgroups)" podman_hako
check "podman (crun): container in a libpod scope" podman_where crun
check "podman (hako): container in a libpod scope" podman_where "$HAKO_BIN"
check "podman --runtime hako run (cgroupfs)" podman_hako_cgroupfs
check "podman --runtime hako run (default network)" podman_hako_default_network

printf '\n'
printf '%s\n' "${results[@]}"
echo "smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
