#!/usr/bin/env bash
# The main job: one program, run natively and as WebAssembly on every
# engine, as real containers through the hako binary.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
setup_all

out="$HAKO_REPO/examples/out"
work="$(mktemp -d /tmp/hako-demo.XXXXXX)"
root="$work/state"
trap 'rm -rf "$work"' EXIT

# bundle NAME ENTRY ANNOTATIONS-JSON ARGS...: a bundle whose rootfs holds
# the example programs and a busybox for the native side.
bundle() {
    local name=$1 entry=$2 annotations=$3
    shift 3
    local dir="$work/$name"
    mkdir -p "$dir/rootfs/app" "$dir/rootfs/data"
    cp "$out/hello" "$out/hello.wasm" "$out/hello.wat" "$out/component.wasm" "$dir/rootfs/app/"
    echo "a file from the rootfs" > "$dir/rootfs/data/note.txt"
    local args
    args=$(printf '%s\n' "$entry" "$@" | jq -R . | jq -s .)
    jq -n --argjson args "$args" --argjson ann "$annotations" '{
        ociVersion: "1.2.1",
        process: {terminal: false, user: {uid: 0, gid: 0}, args: $args, cwd: "/data",
                  env: ["PATH=/app:/bin", "GREETING=hello from the spec", "HELLO_READ=/data/note.txt"]},
        root: {path: "rootfs", readonly: false},
        hostname: "demo",
        annotations: $ann,
        mounts: [{destination: "/proc", type: "proc", source: "proc"},
                 {destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "mode=755"]}],
        linux: {namespaces: [{type: "pid"}, {type: "mount"}, {type: "uts"}, {type: "ipc"}, {type: "network"}]}
    }' > "$dir/config.json"
    echo "$dir"
}

run() {
    local title=$1 dir=$2 id
    id="demo-$(basename "$dir")"
    printf '\n\033[1m--- %s\033[0m\n' "$title"
    local start end code=0
    start=$(date +%s%N)
    "$HAKO_BIN" --root "$root" run --bundle "$dir" "$id" || code=$?
    end=$(date +%s%N)
    printf '\033[2m(exit code %s, %s ms for create+start+run+delete)\033[0m\n' "$code" $(( (end - start) / 1000000 ))
}

"$HAKO_BIN" --version
run "native: /app/hello (x86_64, execve)" "$(bundle native /app/hello '{}' 3 "two words")"
for engine in wasmtime wasmedge wasmer; do
    run "wasm on $engine: /app/hello.wasm" \
        "$(bundle "$engine" /app/hello.wasm "{\"module.wasm.image/variant\": \"compat\", \"run.oci.handler\": \"$engine\"}" 3 "two words")"
done
run "wasm text (.wat) on the default engine" "$(bundle wat /app/hello.wat '{"module.wasm.image/variant": "compat"}')"
run "a WASI preview 2 component on wasmtime" "$(bundle component /app/component.wasm '{"module.wasm.image/variant": "compat"}' a b)"
run "compat-smart: a native entrypoint stays native" "$(bundle smart /app/hello '{"module.wasm.image/variant": "compat-smart"}')"
printf '\nThe same program printed the same arguments, environment and file on every engine.\n'
