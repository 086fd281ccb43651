# shellcheck shell=bash
# Shared by the VM scripts (image.sh, run.sh, shell.sh, test.sh): where the
# guest image lives and how its cache key is made.

# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

HAKO_VM_DIR="$HAKO_REPO/scripts/vm"
# Outside the clone, like the build caches: one image serves every clone
# and every CI run on the machine.
HAKO_VM_CACHE="${HAKO_VM_CACHE:-/var/cache/hako/vm}"
# Run directories (console log, job output, results) of past runs.
HAKO_VM_RUNS="${HAKO_VM_RUNS:-/var/tmp/hako-vm}"

# What the host needs to build and boot the guest. qemu-utils is not in
# the list on purpose: it conflicts with qemu-system-x86 here, so the image
# is raw and throwaway writes go to qemu's own -snapshot overlay.
# shellcheck disable=SC2034 # used by the scripts that source this file
VM_HOST_PACKAGES=(mmdebstrap qemu-system-x86 e2fsprogs)

# Harness failures (not the job's own status) exit with this, as
# `docker run` does for its own errors.
VM_HARNESS_FAILURE=125

vm_die() {
    printf 'error: %s\n' "$*" >&2
    exit "$VM_HARNESS_FAILURE"
}

# The recipe is the image script and the files installed into the guest;
# the key changes, and the image is rebuilt, whenever one of them does.
# run.sh, the runner and the test stage are not part of it: they reach
# the guest at run time through the control share.
vm_recipe_key() {
    (cd "$HAKO_VM_DIR" && cat image.sh guest/*) | sha256sum | cut -c1-16
}

vm_image_dir() {
    printf '%s/%s\n' "$HAKO_VM_CACHE" "$(vm_recipe_key)"
}

# Stages the hako binary at STAGE/bin (with hako-wasm and the WasmEdge
# plugin next to it, as installed), the example guests at STAGE/examples,
# and STAGE/hako-env.sh, which a job sources in the guest to install them
# and set HAKO_BIN and HAKO_EXAMPLES.
#
# A hako built against the private libwasmedge (scripts/install-wasmedge.sh)
# has that prefix's glibc as its ELF interpreter, so the prefix goes along
# to the same path whenever the binary or the plugin names it.
vm_stage_hako() {
    local stage="$1" bin="$2" dir prefix="${HAKO_WASMEDGE_INSTALL_DIR:-/opt/hako/wasmedge}"
    [ -x "$bin" ] || die "$bin: no hako binary (build it first: scripts/setup.sh, or set HAKO_BIN)"
    dir="$(dirname "$bin")"
    mkdir -p "$stage/bin"
    cp "$bin" "$stage/bin/hako"
    ln -sf hako "$stage/bin/hako-wasm"
    local plugin
    for plugin in "$dir"/libhako_executor_*.so; do
        [ ! -f "$plugin" ] || cp "$plugin" "$stage/bin/"
    done
    if [ -d "$prefix" ] && grep -qF "$prefix" "$stage"/bin/hako "$stage"/bin/*.so 2>/dev/null; then
        mkdir -p "$stage/prefix"
        cp -a "$prefix" "$stage/prefix/wasmedge"
        printf '%s\n' "$prefix" >"$stage/prefix/path"
    fi
    if [ -d "$HAKO_REPO/examples/out" ]; then
        cp -a "$HAKO_REPO/examples/out" "$stage/examples"
    else
        log "examples/out missing: wasm containers in the VM will fail (run examples/build.sh)"
    fi
    cat >"$stage/hako-env.sh" <<'ENV'
# Sourced by a job in the guest, from the copy of its stage.
stage="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ -f "$stage/prefix/path" ]; then
    prefix="$(cat "$stage/prefix/path")"
    mkdir -p "$prefix"
    mountpoint -q "$prefix" || mount --bind "$stage/prefix/wasmedge" "$prefix"
fi
export HAKO_BIN="$stage/bin/hako"
[ ! -d "$stage/examples" ] || export HAKO_EXAMPLES="$stage/examples"
unset stage prefix
ENV
}
