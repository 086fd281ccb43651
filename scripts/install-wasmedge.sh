#!/usr/bin/env bash
# Installs libwasmedge 0.14 for building hako's WasmEdge engine
# (crate hako-executor-wasmedge, wasmedge-sdk 0.14.0).
#
#   scripts/install-wasmedge.sh [--private | --system] [--prefix DIR]
#
# Two ways, chosen automatically (see docs/wasmedge.md):
#   system   the host already has libwasmedge 0.14 (headers + libwasmedge.so),
#            or its package manager has it and its glibc is new enough
#            (Debian 13, Ubuntu 25.04+, Fedora): use / install that.
#   private  otherwise, on a Debian-like host (Debian 12): download Debian
#            trixie's libwasmedge and its runtime closure, glibc included,
#            with a private apt configuration (the system's apt sources,
#            lists and libraries are never touched), and unpack it into
#            DIR (default /opt/hako/wasmedge, or $HAKO_WASMEDGE_INSTALL_DIR).
#            Binaries linked against it run on that prefix's glibc.
# Then `. scripts/wasmedge-env.sh` sets the build environment.
#
# Idempotent: a complete prefix or a usable system library means no work.
# Needs root for apt-get/dnf and for the default prefix.

# shellcheck source-path=SCRIPTDIR
set -euo pipefail

WASMEDGE_SERIES=0.14                       # what wasmedge-sdk =0.14.0 binds to
PRIVATE_SUITE=trixie                       # the Debian suite packaging it
PRIVATE_PACKAGES=(libwasmedge0 libwasmedge-dev)
MIRROR=${HAKO_WASMEDGE_MIRROR:-http://deb.debian.org/debian}
PREFIX=${HAKO_WASMEDGE_INSTALL_DIR:-/opt/hako/wasmedge}
STAMP=.hako-wasmedge-complete
MODE=auto
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

say() { printf 'install-wasmedge: %s\n' "$*" >&2; }
die() {
    printf 'install-wasmedge: error: %s\n' "$*" >&2
    exit 1
}

usage() {
    sed -n '2,20s/^# \{0,1\}//p' "$0"
    exit "${1:-0}"
}

while [ $# -gt 0 ]; do
    case $1 in
    --private) MODE=private ;;
    --system) MODE=system ;;
    --prefix)
        [ $# -ge 2 ] || die "--prefix needs a directory"
        PREFIX=$2
        shift
        ;;
    --prefix=*) PREFIX=${1#--prefix=} ;;
    -h | --help) usage 0 ;;
    *) usage 2 ;;
    esac
    shift
done
case $PREFIX in /*) ;; *) die "--prefix must be absolute, not $PREFIX" ;; esac
PREFIX=${PREFIX%/}

# ---------------------------------------------------------------- helpers

have() { command -v "$1" >/dev/null 2>&1; }

as_root() {
    [ "$(id -u)" = 0 ] || die "$* needs root (run this script as root)"
}

# glibc_at_least MAJOR MINOR: whether the host glibc is that new.
glibc_at_least() {
    local v
    v=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}') || true
    [ -n "$v" ] || return 1
    local major=${v%%.*} minor=${v#*.}
    minor=${minor%%.*}
    [ "$major" -gt "$1" ] || { [ "$major" -eq "$1" ] && [ "$minor" -ge "$2" ]; }
}

# header_version INCLUDE_DIR: prints WASMEDGE_VERSION from version.h.
header_version() {
    sed -n 's/^#define WASMEDGE_VERSION "\(.*\)"$/\1/p' "$1/wasmedge/version.h" 2>/dev/null | head -n1
}

dpkg_installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

# apt_install PKG...: installs packages through the system's apt, updating
# the lists first if they do not know them yet.
apt_install() {
    as_root "apt-get install $*"
    say "apt-get install $*"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1; then
        apt-get update -q >/dev/null || die "apt-get update failed"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null ||
            die "apt-get install $* failed"
    fi
}

# Bindgen (in wasmedge-sys) needs libclang.
ensure_libclang() {
    if have dpkg-query && have apt-get; then
        dpkg_installed libclang-dev || apt_install libclang-dev
    elif have rpm && have dnf; then
        rpm -q clang-devel >/dev/null 2>&1 || {
            as_root "dnf install clang-devel"
            dnf install -y clang-devel || die "dnf install clang-devel failed"
        }
    else
        say "cannot check for libclang (needed by bindgen); install it if the build fails"
    fi
}

# ---------------------------------------------------------- system library

# Prints the include dir of a usable system libwasmedge, or fails.
system_ok() {
    (
        unset HAKO_WASMEDGE_PREFIX
        HAKO_WASMEDGE_INSTALL_DIR=/nonexistent
        # shellcheck source=wasmedge-env.sh
        . "$HERE/wasmedge-env.sh" 2>/dev/null || exit 1
        v=$(header_version "$WASMEDGE_INCLUDE_DIR")
        case $v in
        "$WASMEDGE_SERIES".*) printf '%s %s %s\n' "$v" "$WASMEDGE_INCLUDE_DIR" "$WASMEDGE_LIB_DIR" ;;
        *)
            say "system libwasmedge in $WASMEDGE_INCLUDE_DIR is ${v:-of unknown version}, hako needs $WASMEDGE_SERIES.x"
            exit 1
            ;;
        esac
    )
}

# Installs the distribution's package when it is WASMEDGE_SERIES.x.
install_system() {
    if have apt-get && have apt-cache; then
        local cand
        cand=$(apt-cache policy libwasmedge-dev 2>/dev/null | awk '/Candidate:/ {print $2}')
        if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then
            as_root "apt-get update"
            apt-get update -q >/dev/null || die "apt-get update failed"
            cand=$(apt-cache policy libwasmedge-dev 2>/dev/null | awk '/Candidate:/ {print $2}')
        fi
        case $cand in
        "$WASMEDGE_SERIES".* | [0-9]:"$WASMEDGE_SERIES".*) apt_install libwasmedge-dev ;;
        *) return 1 ;;
        esac
    elif have dnf; then
        as_root "dnf install wasmedge-devel"
        dnf install -y wasmedge-devel >/dev/null || return 1
    else
        return 1
    fi
}

# --------------------------------------------------------- private prefix

# Debian architecture -> multiarch triplet and dynamic loader.
private_arch() {
    ARCH=$(dpkg --print-architecture)
    case $ARCH in
    amd64) TRIPLET=x86_64-linux-gnu LOADER=ld-linux-x86-64.so.2 ;;
    arm64) TRIPLET=aarch64-linux-gnu LOADER=ld-linux-aarch64.so.1 ;;
    *) return 1 ;;
    esac
}

private_complete() {
    local d=$1
    [ -f "$d/$STAMP" ] &&
        [ -f "$d/usr/include/wasmedge/wasmedge.h" ] &&
        [ -e "$d/sdk-lib/libwasmedge.so" ] &&
        [ -e "$d/usr/lib/$TRIPLET/$LOADER" ] &&
        [ -e "$d/usr/lib/$TRIPLET/libwasmedge.so.0" ]
}

install_private() {
    { have apt-get && have dpkg && have dpkg-deb; } ||
        die "the private prefix needs apt-get and dpkg (a Debian-like host); install libwasmedge $WASMEDGE_SERIES yourself and set WASMEDGE_INCLUDE_DIR/WASMEDGE_LIB_DIR"
    private_arch || die "private prefix: architecture $ARCH is not supported (amd64, arm64)"
    ensure_libclang
    if private_complete "$PREFIX"; then
        say "private prefix $PREFIX is complete ($(sed -n 's/^version=//p' "$PREFIX/$STAMP")); nothing to do"
        return 0
    fi

    local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    [ -r "$keyring" ] || die "missing $keyring: apt-get install debian-archive-keyring"

    mkdir -p "$(dirname "$PREFIX")" || die "cannot create $(dirname "$PREFIX") (run as root or set --prefix)"
    [ -w "$(dirname "$PREFIX")" ] || die "$(dirname "$PREFIX") is not writable (run as root or set --prefix)"

    WORK=$(mktemp -d "${TMPDIR:-/tmp}/hako-wasmedge.XXXXXX")
    STAGE=$PREFIX.partial.$$
    trap 'rm -rf "$WORK" "$STAGE"' EXIT
    mkdir -p "$WORK/lists/partial" "$WORK/cache/archives/partial" "$WORK/empty" "$WORK/debs"
    # apt drops root to _apt for downloads: let it write there.
    if id _apt >/dev/null 2>&1; then chown _apt "$WORK/debs"; fi

    echo "deb [signed-by=$keyring] $MIRROR $PRIVATE_SUITE main" >"$WORK/sources.list"
    # Read after the system's configuration (proxies etc. still apply);
    # everything apt would write goes into $WORK, and the hooks that other
    # packages attach to `apt-get update` do not run.
    cat >"$WORK/apt.conf" <<EOF
Dir::Etc::sourcelist "$WORK/sources.list";
Dir::Etc::sourceparts "$WORK/empty";
Dir::Etc::preferences "/dev/null";
Dir::Etc::preferencesparts "$WORK/empty";
Dir::State::Lists "$WORK/lists";
Dir::Cache "$WORK/cache";
Acquire::Languages "none";
Acquire::IndexTargets::deb::DEP-11::DefaultEnabled "false";
#clear APT::Update::Pre-Invoke;
#clear APT::Update::Post-Invoke;
#clear APT::Update::Post-Invoke-Success;
EOF
    local apt=(-c "$WORK/apt.conf" -q)

    say "fetching the $PRIVATE_SUITE package lists from $MIRROR (private apt state in $WORK)"
    apt-get "${apt[@]}" update >"$WORK/update.log" 2>&1 || {
        cat "$WORK/update.log" >&2
        die "apt-get update for $PRIVATE_SUITE failed (no access to $MIRROR, or a keyring without $PRIVATE_SUITE keys: upgrade debian-archive-keyring)"
    }

    # The runtime closure: Depends and Pre-Depends, recursively, real packages only.
    local closure
    closure=$(apt-cache "${apt[@]}" depends --recurse --no-recommends --no-suggests \
        --no-conflicts --no-breaks --no-replaces --no-enhances "${PRIVATE_PACKAGES[@]}" |
        grep -v '^[ <]' | sort -u) || true
    for p in "${PRIVATE_PACKAGES[@]}" libc6 libstdc++6; do
        grep -qx "$p" <<<"$closure" || die "$PRIVATE_SUITE does not provide $p; cannot build the private prefix"
    done
    local cand
    cand=$(apt-cache "${apt[@]}" policy libwasmedge0 | awk '/Candidate:/ {print $2}')
    case $cand in
    "$WASMEDGE_SERIES".* | [0-9]:"$WASMEDGE_SERIES".*) ;;
    *) die "$PRIVATE_SUITE has libwasmedge0 $cand, hako needs $WASMEDGE_SERIES.x" ;;
    esac

    say "downloading $(wc -w <<<"$closure") packages: $(tr '\n' ' ' <<<"$closure")"
    # shellcheck disable=SC2086
    (cd "$WORK/debs" && apt-get "${apt[@]}" download $closure >"$WORK/download.log" 2>&1) || {
        cat "$WORK/download.log" >&2
        die "apt-get download from $PRIVATE_SUITE failed"
    }

    rm -rf "$STAGE"
    mkdir -p "$STAGE"
    : >"$STAGE/packages.txt"
    for deb in "$WORK"/debs/*.deb; do
        dpkg-deb -x "$deb" "$STAGE" || die "unpacking $deb failed"
        # shellcheck disable=SC2016 # dpkg's format, not the shell's
        dpkg-deb --show --showformat='${Package} ${Version}\n' "$deb" >>"$STAGE/packages.txt"
    done
    rm -rf "$STAGE/usr/share/doc" "$STAGE/usr/share/man" "$STAGE/usr/share/locale" "$STAGE/usr/share/lintian"

    local libdir=$STAGE/usr/lib/$TRIPLET
    [ -e "$libdir/libwasmedge.so.0" ] || die "libwasmedge.so.0 missing from the unpacked packages"
    [ -e "$libdir/$LOADER" ] || die "$LOADER missing from the unpacked libc6"

    # Only libwasmedge: wasmedge-sys puts WASMEDGE_LIB_DIR on rustc's
    # LD_LIBRARY_PATH, and the prefix's newer libc there would break rustc.
    mkdir -p "$STAGE/sdk-lib"
    for f in "$libdir"/libwasmedge.so*; do
        ln -s "../usr/lib/$TRIPLET/$(basename "$f")" "$STAGE/sdk-lib/$(basename "$f")"
    done

    # Every library libwasmedge needs must resolve inside the prefix.
    local list
    list=$("$libdir/$LOADER" --library-path "$libdir" --list "$libdir/libwasmedge.so.0" 2>&1) ||
        die "the prefix's loader cannot load libwasmedge: $list"
    if grep -q 'not found' <<<"$list"; then
        die "libraries missing from the prefix: $(grep 'not found' <<<"$list" | tr -s ' \t\n' ' ')"
    fi
    if grep '=>' <<<"$list" | grep -v "=> $libdir/" | grep -q .; then
        die "libwasmedge resolves libraries outside the prefix: $(grep '=>' <<<"$list" | grep -v "=> $libdir/" | tr -s ' \t\n' ' ')"
    fi
    smoke_test "$STAGE" "$libdir"

    local version
    version=$(header_version "$STAGE/usr/include")
    {
        echo "version=$version"
        echo "suite=$PRIVATE_SUITE"
        echo "arch=$ARCH"
        echo "loader=usr/lib/$TRIPLET/$LOADER"
    } >"$STAGE/$STAMP"

    rm -rf "$PREFIX"
    mv "$STAGE" "$PREFIX" || die "cannot move $STAGE to $PREFIX"
    # The smoke test ran from the staging path; check the final one too.
    private_complete "$PREFIX" || die "$PREFIX is incomplete after installing"
    say "installed libwasmedge $version ($PRIVATE_SUITE, $(wc -l <"$PREFIX/packages.txt") packages, $(du -sh "$PREFIX" | cut -f1)) into $PREFIX"
}

# Links and runs a C program the way hako's binaries are linked against the
# prefix (see executor-wasmedge/build.rs): proves the recipe on this host.
smoke_test() {
    local stage=$1 libdir=$2
    if ! have cc; then
        say "no C compiler: skipping the link test"
        return 0
    fi
    cat >"$WORK/smoke.c" <<'EOF'
#include <stdio.h>
#include <wasmedge/wasmedge.h>
int main(void) {
    WasmEdge_ConfigureContext *c = WasmEdge_ConfigureCreate();
    WasmEdge_ConfigureAddHostRegistration(c, WasmEdge_HostRegistration_Wasi);
    WasmEdge_VMContext *vm = WasmEdge_VMCreate(c, NULL);
    if (!vm) return 1;
    printf("%s\n", WasmEdge_VersionGet());
    WasmEdge_VMDelete(vm);
    WasmEdge_ConfigureDelete(c);
    return 0;
}
EOF
    local out
    cc -o "$WORK/smoke" "$WORK/smoke.c" -I"$stage/usr/include" -L"$stage/sdk-lib" -lwasmedge \
        -Wl,--dynamic-linker="$libdir/$LOADER" -Wl,-rpath,"$libdir" -Wl,--allow-shlib-undefined \
        2>"$WORK/smoke.log" || {
        cat "$WORK/smoke.log" >&2
        die "linking a test program against the prefix failed"
    }
    out=$("$WORK/smoke" 2>&1) || die "a test program linked against the prefix does not run: $out"
    case $out in
    "$WASMEDGE_SERIES".*) say "link test: libwasmedge $out runs on the prefix's glibc" ;;
    *) die "link test printed $out, expected $WASMEDGE_SERIES.x" ;;
    esac
}

# ------------------------------------------------------------------- main

case $MODE in
system)
    ensure_libclang
    system_ok >/dev/null || install_system || die "no libwasmedge $WASMEDGE_SERIES from this system's package manager (try --private on Debian/Ubuntu)"
    found=$(system_ok) || die "the system's libwasmedge is not usable"
    say "using the system libwasmedge $found"
    ;;
private)
    install_private
    ;;
auto)
    # Same order as wasmedge-env.sh: a complete private prefix wins.
    if have dpkg && private_arch && private_complete "$PREFIX"; then
        install_private # reports that there is nothing to do
    elif found=$(system_ok); then
        ensure_libclang
        say "using the system libwasmedge $found"
    elif glibc_at_least 2 38 && install_system && found=$(system_ok); then
        ensure_libclang
        say "installed the system libwasmedge $found"
    else
        glibc_at_least 2 38 || say "glibc $(getconf GNU_LIBC_VERSION | awk '{print $2}') is older than the 2.38 distribution libwasmedge needs: using a private prefix"
        install_private
    fi
    ;;
esac
say "now run: . scripts/wasmedge-env.sh"
