# shellcheck shell=bash
# Shared by setup.sh, demo.sh and test.sh: idempotent installation of what
# hako needs on a fresh Debian/Ubuntu machine, and the build.

set -euo pipefail

HAKO_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Build caches live outside the clone so repeated runs (and CI) are fast.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/hako/target}"
export HAKO_EXAMPLES_TARGET_DIR="${HAKO_EXAMPLES_TARGET_DIR:-/var/cache/hako/examples-target}"
export HAKO_PROFILE="${HAKO_PROFILE:-release}"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

require_root() {
    [ "$(id -u)" -eq 0 ] || die "run as root: hako creates real containers (namespaces, cgroups, mounts)"
}

# System packages hako builds with and tests against; installs only the
# missing ones.
SYSTEM_PACKAGES=(
    build-essential pkg-config libseccomp-dev libclang-dev
    busybox-static uidmap iproute2 ca-certificates curl git
    podman buildah containerd jq
)

install_packages() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing ${missing[*]}"
    command -v apt-get >/dev/null || die "apt-get not found: install ${missing[*]} by hand"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_rust() {
    command -v cargo >/dev/null || die "cargo not found: install Rust with rustup (https://rustup.rs)"
    local installed
    installed="$(rustup target list --installed 2>/dev/null || true)"
    for t in wasm32-wasip1 wasm32-wasip2; do
        grep -qx "$t" <<<"$installed" || { log "rustup target add $t"; rustup target add "$t"; }
    done
    rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt
}

# WasmEdge: a private libwasmedge where the system has none
# (docs/wasmedge.md), then its build environment.
ensure_wasmedge() {
    "$HAKO_REPO/scripts/install-wasmedge.sh"
    # shellcheck source=wasmedge-env.sh
    . "$HAKO_REPO/scripts/wasmedge-env.sh"
}

build_examples() {
    log "building the example guests"
    CARGO_TARGET_DIR="$HAKO_EXAMPLES_TARGET_DIR" "$HAKO_REPO/examples/build.sh" >/dev/null
}

# What build_hako builds, one cargo invocation each. Every engine is a
# plugin (libhako_executor_<engine>.so) that hako loads from its own
# directory only for a container that uses it. Built in one invocation,
# the plugins' shared crates would get the union of the features each
# asks for: wasmer's compiler turns on cranelift's aarch64 and riscv64
# backends, and wasmtime its pulley one, and each plugin would carry them
# all (1.2 MB more code in wasmtime's, 1.6 MB in wasmer's), and hako the
# features the engines want of crates it shares with them. The WasmEdge
# plugin is built with hako: of the crates hako links, it only adds a
# feature to zerocopy (simd).
# scripts/text-layout.sh builds hako with the first set, so that its
# symbols get the same names.
HAKO_BUILD_SETS=(
    "-p hako --features hako/wasmedge -p hako-executor-wasmedge"
    "-p hako-executor-wasmtime"
    "-p hako-executor-wasmer"
)

# The hako binary with every engine, plus the hako-wasm name.
build_hako() {
    log "building hako ($HAKO_PROFILE, engines: wasmtime wasmedge wasmer)"
    local set
    for set in "${HAKO_BUILD_SETS[@]}"; do
        # shellcheck disable=SC2086 # the set's words
        (cd "$HAKO_REPO" && cargo build --locked --profile "$HAKO_PROFILE" $set)
    done
    HAKO_BIN="$CARGO_TARGET_DIR/$HAKO_PROFILE/hako"
    ln -sf hako "$CARGO_TARGET_DIR/$HAKO_PROFILE/hako-wasm"
    export HAKO_BIN
}

setup_all() {
    require_root
    install_packages "${SYSTEM_PACKAGES[@]}"
    ensure_rust
    ensure_wasmedge
    build_examples
    build_hako
}
