#!/usr/bin/env bash
# Builds the test VM's guest once: Debian 12 with systemd as PID 1 on a
# pure unified cgroup v2 hierarchy, podman, buildah, containerd, crun,
# runc and busybox-static. The image is cached in $HAKO_VM_CACHE/<key>,
# the key a hash of the recipe (this script and scripts/vm/guest/), and
# rebuilt only when the recipe changes. Prints the image's directory.
#
#   scripts/vm/image.sh          # build if missing, print the directory
#   HAKO_VM_REBUILD=1 scripts/vm/image.sh   # build again (fresh packages)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# What the guest has. systemd-sysv makes systemd PID 1; dbus-user-session
# and systemd-container give a lingering user a systemd user session
# (rootless podman, `machinectl shell hakotest@`); libseccomp2 because hako
# links it dynamically; jq to edit `hako spec` output; kmod for the 9p
# modules. The private libwasmedge's LLVM (scripts/install-wasmedge.sh)
# takes libedit, libffi, libz3 and libxml2 from the system, not from its
# prefix: without them the WasmEdge plugin does not load. linux-libc-dev
# for the seccomp tests (they read asm/unistd_64.h). Recommends stay out,
# as on the host (scripts/lib.sh).
GUEST_PACKAGES=(
    systemd-sysv dbus dbus-user-session systemd-container udev kmod
    linux-image-amd64 initramfs-tools
    podman buildah crun runc containerd conmon
    fuse-overlayfs slirp4netns uidmap
    busybox-static libseccomp2 iproute2 procps ca-certificates jq
    libedit2 libffi8 libz3-4 libxml2 linux-libc-dev
    less strace time
)
GUEST_SIZE="${HAKO_VM_IMAGE_SIZE:-6G}"
GUEST_USER=hakotest

# The archive the host's apt already uses (the URIs: line of the deb822
# entry carrying the bookworm suite): the only place the host can reach.
debian_archive() {
    local sources=/etc/apt/sources.list.d/debian.sources uri
    [ -r "$sources" ] || die "$sources: not readable; cannot tell which Debian archive to use"
    uri="$(awk '
        /^[[:space:]]*$/ { if (suite && uri) { print uri; exit } suite = 0; uri = ""; next }
        /^URIs:/ { uri = $2 }
        /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") suite = 1 }
        END { if (suite && uri) print uri }
    ' "$sources" | head -n1)"
    [ -n "$uri" ] || die "$sources: no entry for the bookworm suite"
    printf '%s\n' "$uri"
}

bootstrap() {
    local rootfs="$1" archive
    archive="$(debian_archive)"
    log "mmdebstrap bookworm from $archive (${#GUEST_PACKAGES[@]} packages and their dependencies)"
    local IFS=,
    mmdebstrap --quiet --variant=apt --include="${GUEST_PACKAGES[*]}" \
        bookworm "$rootfs" "deb $archive bookworm main" "deb $archive bookworm-updates main" >&2
}

# Everything that makes the Debian tree a hako test VM.
configure_guest() {
    local root="$1" guest="$HAKO_VM_DIR/guest"
    echo hako-vm >"$root/etc/hostname"
    printf '127.0.0.1\tlocalhost\n127.0.1.1\thako-vm\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
    # The root filesystem comes from the kernel command line (root=/dev/vda
    # rw); an fstab line would only add a remount.
    : >"$root/etc/fstab"

    install -D -m 0755 "$guest/boot" "$root/usr/local/lib/hako-vm/boot"
    install -D -m 0755 "$guest/shell" "$root/usr/local/lib/hako-vm/shell"
    install -D -m 0644 "$guest/hako-vm.service" "$root/etc/systemd/system/hako-vm.service"
    install -D -m 0644 "$guest/hako-vm-shell.service" "$root/etc/systemd/system/hako-vm-shell.service"
    install -D -m 0644 "$guest/modules-load.conf" "$root/etc/modules-load.d/hako-vm.conf"
    chroot "$root" systemctl enable --quiet hako-vm.service hako-vm-shell.service
    # A lean boot under TCG: the containerd tests start a containerd of
    # their own, and nothing in a throwaway guest needs apt's or
    # housekeeping timers.
    chroot "$root" systemctl disable --quiet containerd.service
    chroot "$root" systemctl mask --quiet apt-daily.timer apt-daily-upgrade.timer \
        e2scrub_all.timer fstrim.timer man-db.timer

    # An unprivileged user with sub-id ranges and a systemd user session
    # from boot on (`loginctl enable-linger hakotest`), for rootless runs.
    chroot "$root" useradd --create-home --shell /bin/bash --user-group "$GUEST_USER"
    for file in subuid subgid; do
        grep -q "^$GUEST_USER:" "$root/etc/$file" 2>/dev/null ||
            echo "$GUEST_USER:100000:65536" >>"$root/etc/$file"
    done
    mkdir -p "$root/var/lib/systemd/linger"
    touch "$root/var/lib/systemd/linger/$GUEST_USER"
}

# Kernel and initrd go next to the image: qemu boots them directly.
extract_kernel() {
    local root="$1" out="$2" kernel initrd
    kernel="$(find "$root/boot" -maxdepth 1 -name 'vmlinuz-*' | sort -V | tail -n1)"
    initrd="$(find "$root/boot" -maxdepth 1 -name 'initrd.img-*' | sort -V | tail -n1)"
    [ -n "$kernel" ] || die "$root/boot: no vmlinuz-* (did linux-image-amd64 install?)"
    [ -n "$initrd" ] || die "$root/boot: no initrd.img-* (did initramfs-tools run?)"
    cp "$kernel" "$out/vmlinuz"
    cp "$initrd" "$out/initrd.img"
}

make_filesystem() {
    local root="$1" img="$2"
    log "mkfs.ext4 -d (${GUEST_SIZE}, sparse)"
    truncate -s "$GUEST_SIZE" "$img"
    mkfs.ext4 -q -F -L hako-root -d "$root" "$img"
}

build_image() {
    local dest="$1" tmp
    mkdir -p "$HAKO_VM_CACHE"
    # Built under a temporary name on the same filesystem, renamed into
    # place when complete: a killed build never leaves a half image.
    tmp="$(mktemp -d "$HAKO_VM_CACHE/.build.XXXXXX")"
    chmod 0755 "$tmp"
    # shellcheck disable=SC2064 # expand now: $tmp is local
    trap "rm -rf '$tmp'" EXIT
    local start=$SECONDS
    bootstrap "$tmp/rootfs"
    configure_guest "$tmp/rootfs"
    extract_kernel "$tmp/rootfs" "$tmp"
    # shellcheck disable=SC2016 # dpkg-query's format, not a shell expansion
    chroot "$tmp/rootfs" dpkg-query -W -f='${Package} ${Version}\n' >"$tmp/packages.txt"
    make_filesystem "$tmp/rootfs" "$tmp/root.img"
    rm -rf "$tmp/rootfs"
    (cd "$HAKO_VM_DIR" && cat image.sh guest/*) >"$tmp/recipe.txt"
    echo "built $(date -u +%FT%TZ) in $((SECONDS - start))s" >"$tmp/built.txt"
    rm -rf "$dest"
    mv -T "$tmp" "$dest"
    trap - EXIT
    log "guest image ready in $((SECONDS - start))s: $dest ($(du -sh "$dest/root.img" | cut -f1) used of $GUEST_SIZE)"
}

# Images of older recipes only take space (a running VM keeps its open
# image file until it exits).
prune_old_images() {
    local keep="$1" d
    for d in "$HAKO_VM_CACHE"/*/ "$HAKO_VM_CACHE"/.build.*/; do
        d="${d%/}"
        if [ ! -d "$d" ] || [ "$d" = "$keep" ]; then continue; fi
        # A build under way holds the lock; only stale ones are left here.
        log "removing the old guest image $d"
        rm -rf "$d"
    done
}

main() {
    require_root
    install_packages "${VM_HOST_PACKAGES[@]}"
    local dest
    dest="$(vm_image_dir)"
    if [ -f "$dest/root.img" ] && [ -z "${HAKO_VM_REBUILD:-}" ]; then
        printf '%s\n' "$dest"
        return 0
    fi
    mkdir -p "$HAKO_VM_CACHE"
    # One build at a time; whoever waited finds the image built.
    exec 9>"$HAKO_VM_CACHE/.lock"
    flock 9
    if [ ! -f "$dest/root.img" ] || [ -n "${HAKO_VM_REBUILD:-}" ]; then
        build_image "$dest"
        prune_old_images "$dest"
    fi
    printf '%s\n' "$dest"
}

main "$@"
