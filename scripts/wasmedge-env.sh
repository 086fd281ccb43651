# shellcheck shell=sh
# Sets up the environment for building hako's WasmEdge engine.
#
#   . scripts/wasmedge-env.sh
#
# Meant to be sourced (POSIX sh, bash, zsh). It exports:
#   WASMEDGE_INCLUDE_DIR   directory holding wasmedge/wasmedge.h
#   WASMEDGE_LIB_DIR       directory holding libwasmedge.so (and nothing of
#                          a foreign glibc: wasmedge-sys puts it on rustc's
#                          LD_LIBRARY_PATH)
#   HAKO_WASMEDGE_PREFIX   only when the private prefix made by
#                          scripts/install-wasmedge.sh is in use; the build
#                          scripts of hako-executor-wasmedge and hako then
#                          link against the glibc inside that prefix
# and unsets HAKO_WASMEDGE_PREFIX otherwise.
#
# A complete private prefix (${HAKO_WASMEDGE_INSTALL_DIR:-/opt/hako/wasmedge})
# wins over a system libwasmedge: the installer only creates one when the
# system's library is missing or unusable. It returns non-zero, without
# exiting the calling shell, when no libwasmedge is installed.

_hako_we_dir=${HAKO_WASMEDGE_INSTALL_DIR:-/opt/hako/wasmedge}

# _hako_we_private_ok DIR: whether DIR is a complete private prefix.
_hako_we_private_ok() {
    [ -f "$1/.hako-wasmedge-complete" ] &&
        [ -f "$1/usr/include/wasmedge/wasmedge.h" ] &&
        [ -e "$1/sdk-lib/libwasmedge.so" ]
}

# _hako_we_system: finds a system libwasmedge; sets _hako_we_inc, _hako_we_lib.
_hako_we_system() {
    _hako_we_inc=
    _hako_we_lib=
    for _d in /usr/include /usr/local/include; do
        if [ -f "$_d/wasmedge/wasmedge.h" ]; then
            _hako_we_inc=$_d
            break
        fi
    done
    _m=$(uname -m)
    for _d in "/usr/lib/$_m-linux-gnu" /usr/lib64 /usr/lib /usr/local/lib64 /usr/local/lib; do
        if [ -e "$_d/libwasmedge.so" ]; then
            _hako_we_lib=$_d
            break
        fi
    done
    unset _d _m
    [ -n "$_hako_we_inc" ] && [ -n "$_hako_we_lib" ]
}

if _hako_we_private_ok "$_hako_we_dir"; then
    WASMEDGE_INCLUDE_DIR=$_hako_we_dir/usr/include
    WASMEDGE_LIB_DIR=$_hako_we_dir/sdk-lib
    HAKO_WASMEDGE_PREFIX=$_hako_we_dir
    export WASMEDGE_INCLUDE_DIR WASMEDGE_LIB_DIR HAKO_WASMEDGE_PREFIX
    _hako_we_rc=0
elif _hako_we_system; then
    WASMEDGE_INCLUDE_DIR=$_hako_we_inc
    WASMEDGE_LIB_DIR=$_hako_we_lib
    export WASMEDGE_INCLUDE_DIR WASMEDGE_LIB_DIR
    unset HAKO_WASMEDGE_PREFIX
    _hako_we_rc=0
else
    echo "wasmedge-env.sh: no libwasmedge found (neither $_hako_we_dir nor the system's); run scripts/install-wasmedge.sh" >&2
    unset HAKO_WASMEDGE_PREFIX
    _hako_we_rc=1
fi

unset _hako_we_dir _hako_we_inc _hako_we_lib
unset -f _hako_we_private_ok _hako_we_system
# Sourced: `return`, never `exit`, which would end the caller's shell.
eval "unset _hako_we_rc; return $_hako_we_rc"
