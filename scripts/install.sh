#!/usr/bin/env bash
# Installs a built hako: the binary, the `hako-wasm` name, the WasmEdge
# plugin, and optionally the drop-ins that register hako with podman and
# containerd.
#
#   scripts/install.sh [--prefix DIR] [--destdir DIR] [--from DIR]
#                      [--podman] [--containerd] [--all]
#
#   --prefix DIR    where hako goes: DIR/bin/hako, DIR/bin/hako-wasm,
#                   DIR/lib/hako/libhako_executor_{wasmtime,wasmedge,wasmer}.so
#                   (default /usr/local)
#   --destdir DIR   stage everything under DIR (packaging); the drop-ins
#                   still name the final paths
#   --sysconfdir D  where the drop-ins go (default /etc)
#   --from DIR      the build to install (default: $CARGO_TARGET_DIR/release,
#                   /var/cache/hako/target/release); scripts/setup.sh builds it
#   --podman        /etc/containers/containers.conf.d/50-hako.conf: registers
#                   the runtimes `hako` and `hako-wasm`, and runs images of
#                   platform wasi/wasm on hako-wasm
#   --containerd    /etc/containerd/conf.d/hako.toml: runtime handlers `hako`
#                   and `hako-wasm` (runc shim, BinaryName) with the wasm
#                   annotations allowlisted; added to containerd's `imports`
#   --all           --podman and --containerd
#
# Idempotent. The WasmEdge plugin links the libwasmedge it was built
# against (docs/wasmedge.md): a private prefix (/opt/hako/wasmedge) must
# stay where it is.
set -euo pipefail

PREFIX=/usr/local
ETC=/etc
DESTDIR=
FROM=${CARGO_TARGET_DIR:-/var/cache/hako/target}/release
PODMAN=0
CONTAINERD=0

say() { printf 'install: %s\n' "$*" >&2; }
die() {
    printf 'install: error: %s\n' "$*" >&2
    exit 1
}
usage() {
    sed -n '2,27s/^# \{0,1\}//p' "$0"
    exit "${1:-0}"
}

while [ $# -gt 0 ]; do
    case $1 in
    --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; PREFIX=$2; shift ;;
    --destdir) [ $# -ge 2 ] || die "--destdir needs a directory"; DESTDIR=$2; shift ;;
    --sysconfdir) [ $# -ge 2 ] || die "--sysconfdir needs a directory"; ETC=$2; shift ;;
    --from) [ $# -ge 2 ] || die "--from needs a directory"; FROM=$2; shift ;;
    --podman) PODMAN=1 ;;
    --containerd) CONTAINERD=1 ;;
    --all) PODMAN=1; CONTAINERD=1 ;;
    -h | --help) usage 0 ;;
    *) printf 'install: error: unknown argument %s\n' "$1" >&2; usage 2 ;;
    esac
    shift
done
case $PREFIX in /*) ;; *) die "--prefix must be absolute, not $PREFIX" ;; esac
case $ETC in /*) ;; *) die "--sysconfdir must be absolute, not $ETC" ;; esac

[ -x "$FROM/hako" ] || die "no hako binary at $FROM/hako: build it first (scripts/setup.sh)"

bin=$PREFIX/bin
lib=$PREFIX/lib/hako

# Copies a file into place atomically (a running hako keeps its old inode).
put() {
    local src=$1 dest=$2 mode=$3
    install -d "$(dirname "$DESTDIR$dest")"
    install -m "$mode" "$src" "$DESTDIR$dest.new.$$"
    mv -f "$DESTDIR$dest.new.$$" "$DESTDIR$dest"
    say "$dest"
}

# Writes a text file atomically, from standard input.
put_text() {
    local dest=$1 tmp
    install -d "$(dirname "$DESTDIR$dest")"
    tmp=$DESTDIR$dest.new.$$
    cat >"$tmp"
    chmod 0644 "$tmp"
    mv -f "$tmp" "$DESTDIR$dest"
    say "$dest"
}

install_binaries() {
    put "$FROM/hako" "$bin/hako" 0755
    ln -sfn hako "$DESTDIR$bin/hako-wasm"
    say "$bin/hako-wasm -> hako"
    local engine
    for engine in wasmtime wasmedge wasmer; do
        if [ -f "$FROM/libhako_executor_$engine.so" ]; then
            put "$FROM/libhako_executor_$engine.so" "$lib/libhako_executor_$engine.so" 0644
        else
            say "no $engine plugin in $FROM: $engine containers will fail with a clear error"
        fi
    done
}

install_podman() {
    put_text "$ETC/containers/containers.conf.d/50-hako.conf" <<EOF
# Installed by hako's scripts/install.sh.
[engine.runtimes]
hako = ["$bin/hako"]
hako-wasm = ["$bin/hako-wasm"]

# Images built for the wasi/wasm platform run on hako-wasm by themselves.
[engine.platform_to_oci_runtime]
"wasi/wasm" = "hako-wasm"
"wasi/wasm32" = "hako-wasm"
EOF
}

install_containerd() {
    local snippet=$ETC/containerd/conf.d/hako.toml config=$DESTDIR$ETC/containerd/config.toml
    put_text "$snippet" <<EOF
# Installed by hako's scripts/install.sh. Under CRI, containerd passes
# annotations to the runtime only when they are allowlisted: these let a
# pod choose the engine (run.oci.handler, io.hako.wasm.engine) and mark
# images as wasm (module.wasm.image/variant).
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hako]
  runtime_type = "io.containerd.runc.v2"
  pod_annotations = ["run.oci.handler", "module.wasm.image/variant", "io.hako.*"]
  container_annotations = ["run.oci.handler", "module.wasm.image/variant", "io.hako.*"]
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hako.options]
    BinaryName = "$bin/hako"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hako-wasm]
  runtime_type = "io.containerd.runc.v2"
  pod_annotations = ["run.oci.handler", "module.wasm.image/variant", "io.hako.*"]
  container_annotations = ["run.oci.handler", "module.wasm.image/variant", "io.hako.*"]
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hako-wasm.options]
    BinaryName = "$bin/hako-wasm"
EOF
    # containerd reads conf.d only through `imports` in its main config.
    local want="imports = [\"$ETC/containerd/conf.d/*.toml\"]"
    if [ ! -f "$config" ]; then
        install -d "$(dirname "$config")"
        printf 'version = 2\n%s\n' "$want" >"$config"
        say "$ETC/containerd/config.toml (new, imports conf.d)"
    elif grep -q '^imports *=.*conf\.d' "$config"; then
        :
    elif grep -q '^imports *=' "$config"; then
        say "note: $ETC/containerd/config.toml has its own imports: add $ETC/containerd/conf.d/*.toml to it"
    else
        # imports must come before any table: put it right after `version`,
        # or first.
        local tmp=$config.new.$$
        if grep -q '^version *=' "$config"; then
            awk -v line="$want" '{print} /^version *=/ && !done {print line; done=1}' "$config" >"$tmp"
        else
            { printf '%s\n' "$want"; cat "$config"; } >"$tmp"
        fi
        chmod --reference="$config" "$tmp"
        mv -f "$tmp" "$config"
        say "$ETC/containerd/config.toml: imports $ETC/containerd/conf.d/*.toml"
    fi
    say "restart containerd to load the hako runtimes"
}

install_binaries
[ "$PODMAN" = 1 ] && install_podman
[ "$CONTAINERD" = 1 ] && install_containerd
"$DESTDIR$bin/hako" --version >/dev/null || die "the installed $bin/hako does not run"
say "done"
