#!/usr/bin/env bash
# RUSTC_WRAPPER for scripts/text-layout.sh's coverage build: instruments
# function entries (LLVM SanitizerCoverage, one guard per function) in the
# crates hako links, listed in $LAYOUT_ALLOW, and links the guard's
# callbacks ($LAYOUT_COV_O, from cov.c) into everything that is linked,
# since proc macros and build scripts may share an instrumented crate.
# Wrapper flags leave cargo's -C metadata alone, so every symbol keeps the
# name it has in the plain build.
rustc="$1"
shift
name='' types='' prev=''
for arg in "$@"; do
    case "$prev" in
        --crate-name) name="$arg" ;;
        --crate-type) types="$types $arg" ;;
    esac
    prev="$arg"
done
extra=()
if [ -n "$name" ] && [[ "$types" != *proc-macro* ]] && [[ "$name" != build_script_* ]] &&
    grep -qxF "$name" "$LAYOUT_ALLOW"; then
    extra=(-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=1
        -Cllvm-args=-sanitizer-coverage-trace-pc-guard)
fi
case "$types" in
    *bin* | *proc-macro* | *dylib*) extra+=("-Clink-arg=$LAYOUT_COV_O") ;;
esac
exec "$rustc" "$@" "${extra[@]}"
