#!/usr/bin/env bash
# Builds every example guest and gathers them in examples/out/, the one place
# tests and docs look. Safe to rerun: cargo rebuilds only what changed and the
# copies are overwritten.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/out"
# Outside the repo by default so that concurrent checkouts share one cache
# and the work tree stays small.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/hako-examples-target}"
target_dir="$CARGO_TARGET_DIR"
native=x86_64-unknown-linux-gnu

# Only add what is missing: `rustup target add` goes to the network even when
# the target is already there.
installed="$(rustup target list --installed)"
for t in wasm32-wasip1 wasm32-wasip2; do
    if ! grep -qx "$t" <<<"$installed"; then
        rustup target add "$t"
    fi
done

cd "$here"

# Native hello, statically linked so it runs from a rootfs with no libc.
# Added to the caller's RUSTFLAGS rather than as target rustflags, which any
# RUSTFLAGS would override; the explicit --target keeps it off build scripts.
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
    cargo build --release --locked --target "$native" -p hello
cargo build --release --locked --target wasm32-wasip1 -p hello
# wasm32-wasip2 links straight to a component (wasm-component-ld), so no
# adapter or wasm-tools step is needed.
cargo build --release --locked --target wasm32-wasip2 -p hello-component -p hello-http

mkdir -p "$out"
cp "$target_dir/$native/release/hello" "$out/hello"
cp "$target_dir/wasm32-wasip1/release/hello.wasm" "$out/hello.wasm"
cp "$target_dir/wasm32-wasip2/release/hello-component.wasm" "$out/component.wasm"
cp "$target_dir/wasm32-wasip2/release/hello_http.wasm" "$out/http.wasm"
cp wat/hello.wat wat/exit3.wat "$out/"

# A dynamic binary would only fail later, inside a container with no libc:
# catch it here.
if readelf -l "$out/hello" | grep -q 'Requesting program interpreter'; then
    echo "error: $out/hello is dynamically linked (is RUSTFLAGS set?)" >&2
    exit 1
fi

# Preview 1 modules start with version 1, components with the layer-1
# component encoding (0x0d 0x00 0x01 0x00); a mix-up here means a wrong target.
check_header() {
    local file="$1" want="$2" got
    got="$(head -c 8 "$file" | od -An -tx1 | tr -d ' \n')"
    if [[ "$got" != "$want" ]]; then
        echo "error: $file starts with $got, expected $want" >&2
        exit 1
    fi
}
check_header "$out/hello.wasm" 0061736d01000000
check_header "$out/component.wasm" 0061736d0d000100
check_header "$out/http.wasm" 0061736d0d000100

echo "built:"
for f in hello hello.wasm component.wasm http.wasm hello.wat exit3.wat; do
    echo "  $out/$f"
done
