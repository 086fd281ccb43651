#!/usr/bin/env bash
# Boots the test VM (Debian 12, systemd PID 1, cgroup v2; scripts/vm/image.sh)
# and runs one job in it as root, or gives a root shell.
#
#   scripts/vm/run.sh 'cat /sys/fs/cgroup/cgroup.controllers'   # a command
#   scripts/vm/run.sh DIR                  # DIR copied in, runs DIR/job.sh
#   scripts/vm/run.sh DIR ./x --flag       # DIR copied in, runs ./x --flag
#   scripts/vm/run.sh --shell [DIR]        # root shell; DIR at /hako (ro)
#
# In the guest the job runs from its copy of DIR (/var/lib/hako-vm/job) with HAKO_VM=1
# and HAKO_VM_OUT, a directory whose files come back to the host. Its
# output streams here and run.sh exits with its status. Anything else — no
# boot, a timeout, a job that never reports — fails with status 125 and the
# tail of the serial console.
#
# Options (or environment): --timeout SECS (HAKO_VM_TIMEOUT, default 1800,
# the whole run), --boot-timeout SECS (HAKO_VM_BOOT_TIMEOUT, default 600,
# until the job starts), --out DIR (where the run's console.log,
# output.log, status and files/ are kept; default a new
# /var/tmp/hako-vm/run.*). HAKO_VM_MEM (MiB, default 4096), HAKO_VM_SMP
# (default 2), HAKO_VM_ACCEL (tcg, the default: KVM guests hang at kernel
# start on some hosts; kvm where it works).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
    exit 2
}

MODE=job
TIMEOUT="${HAKO_VM_TIMEOUT:-1800}"
BOOT_TIMEOUT="${HAKO_VM_BOOT_TIMEOUT:-600}"
RUN_DIR=''
INPUT=''
COMMAND=()
QEMU_PID=''
TAIL_PID=''

parse_args() {
    while [ $# -gt 0 ]; do
        case "$1" in
            --shell) MODE=shell ;;
            --timeout) TIMEOUT="${2:?--timeout needs seconds}"; shift ;;
            --boot-timeout) BOOT_TIMEOUT="${2:?--boot-timeout needs seconds}"; shift ;;
            --out) RUN_DIR="${2:?--out needs a directory}"; shift ;;
            -h | --help) usage ;;
            --) shift; break ;;
            -*) printf 'error: unknown option %s\n' "$1" >&2; usage ;;
            *) break ;;
        esac
        shift
    done
    if [ $# -gt 0 ] && [ -d "$1" ]; then
        INPUT="$(cd "$1" && pwd)"
        shift
    fi
    COMMAND=("$@")
    if [ "$MODE" = job ] && [ ${#COMMAND[@]} -eq 0 ]; then
        [ -n "$INPUT" ] || usage
        [ -f "$INPUT/job.sh" ] || vm_die "$INPUT/job.sh: missing (give a command after the directory, or add a job.sh)"
        # Through bash: a job.sh needs no execute bit.
        COMMAND=(/bin/bash ./job.sh)
    fi
    case "$INPUT$RUN_DIR" in
        *,*) vm_die "${INPUT:-$RUN_DIR}: qemu's -virtfs cannot take a path with a comma" ;;
    esac
}

# One argument is a shell script ("a; b"); several are one command line.
write_job() {
    {
        echo '#!/bin/bash'
        echo 'set -uo pipefail'
        if [ ${#COMMAND[@]} -eq 1 ]; then
            printf '%s\n' "${COMMAND[0]}"
        else
            printf '%q ' "${COMMAND[@]}"
            echo
        fi
    } >"$RUN_DIR/job.sh"
}

prepare_run_dir() {
    if [ -z "$RUN_DIR" ]; then
        mkdir -p "$HAKO_VM_RUNS"
        # Old runs only take space; a week is enough to look at a failure.
        find "$HAKO_VM_RUNS" -mindepth 1 -maxdepth 1 -name 'run.*' -mtime +7 -exec rm -rf {} + 2>/dev/null || true
        RUN_DIR="$(mktemp -d "$HAKO_VM_RUNS/run.XXXXXX")"
    else
        mkdir -p "$RUN_DIR"
        RUN_DIR="$(cd "$RUN_DIR" && pwd)"
        rm -f "$RUN_DIR"/{started,status,output.log,console.log,qemu.log,input,input.img}
    fi
    cp "$HAKO_VM_DIR/runner.sh" "$RUN_DIR/runner.sh"
    [ -z "$INPUT" ] || prepare_input
}

# The input directory reaches the guest as a read-only ext4 disk (the
# default: under TCG the guest reads it several times faster than 9p) or
# as a read-only 9p share (HAKO_VM_INPUT=9p: nothing copied on the host).
prepare_input() {
    local how="${HAKO_VM_INPUT:-disk}" mib
    # The shell mounts the directory itself, live, at /hako.
    [ "$MODE" = job ] || how=9p
    case "$how" in
        9p) ;;
        disk)
            # Room for the files plus ext4's own metadata.
            mib=$(($(du -sm "$INPUT" | cut -f1) * 5 / 4 + 64))
            truncate -s "${mib}M" "$RUN_DIR/input.img"
            mkfs.ext4 -q -F -L hakoin -d "$INPUT" "$RUN_DIR/input.img" ||
                vm_die "$RUN_DIR/input.img: mkfs.ext4 -d $INPUT failed"
            ;;
        *) vm_die "HAKO_VM_INPUT=$how: not 9p or disk" ;;
    esac
    echo "$how" >"$RUN_DIR/input"
}

qemu_args() {
    local img="$1" cmdline="$2"
    local accel="${HAKO_VM_ACCEL:-tcg}"
    [ "$accel" != kvm ] || [ -w /dev/kvm ] || vm_die "/dev/kvm: not usable, and HAKO_VM_ACCEL=kvm"
    QEMU_ARGS=(
        -machine "accel=$accel" -cpu "${HAKO_VM_CPU:-$([ "$accel" = kvm ] && echo host || echo max)}" -m "${HAKO_VM_MEM:-4096}" -smp "${HAKO_VM_SMP:-2}"
        -nodefaults -no-user-config -display none
        # A guest panic (panic=-1 reboots) ends qemu instead of looping.
        -no-reboot
        -kernel "$img/vmlinuz" -initrd "$img/initrd.img" -append "$cmdline"
        # snapshot=on: writes go to a throwaway overlay, the cached image
        # stays clean and several VMs can share it.
        -drive "file=$img/root.img,format=raw,if=virtio,snapshot=on,cache=unsafe"
        -device virtio-rng-pci
        # The guest needs no network: tests stay on loopback.
        -nic none
        -virtfs "local,path=$RUN_DIR,mount_tag=hakoctl,security_model=none,id=hakoctl"
    )
    if [ -f "$RUN_DIR/input.img" ]; then
        QEMU_ARGS+=(-drive "file=$RUN_DIR/input.img,format=raw,if=virtio,readonly=on")
    elif [ -n "$INPUT" ]; then
        QEMU_ARGS+=(-virtfs "local,path=$INPUT,mount_tag=hakoin,security_model=none,readonly=on,id=hakoin")
    fi
}

KERNEL_CMDLINE="console=ttyS0 root=/dev/vda rw systemd.unified_cgroup_hierarchy=1 panic=-1"

run_shell() {
    local img="$1" rows=24 cols=80
    if [ -t 0 ] && read -r rows cols < <(stty size 2>/dev/null); then :; fi
    qemu_args "$img" "$KERNEL_CMDLINE hako.vm=shell systemd.mask=serial-getty@ttyS0.service hako.rows=$rows hako.cols=$cols hako.term=${TERM:-xterm}"
    log "booting the guest (a minute or more under TCG); Ctrl-A X quits qemu, Ctrl-A C its monitor"
    # signal=off: Ctrl-C goes to the guest's shell, not to qemu.
    exec qemu-system-x86_64 "${QEMU_ARGS[@]}" \
        -chardev "stdio,id=con,mux=on,signal=off,logfile=$RUN_DIR/console.log" \
        -serial chardev:con -mon chardev=con,mode=readline
}

stop_children() {
    [ -z "$TAIL_PID" ] || kill "$TAIL_PID" 2>/dev/null || true
    [ -z "$QEMU_PID" ] || kill "$QEMU_PID" 2>/dev/null || true
}

# The input disk is a copy of the input directory: no use after the run.
cleanup() {
    stop_children
    rm -f "$RUN_DIR/input.img"
}

fail() {
    stop_children
    if [ -s "$RUN_DIR/console.log" ]; then
        printf '\n==> last lines of the serial console (%s)\n' "$RUN_DIR/console.log" >&2
        tail -n 40 "$RUN_DIR/console.log" | tr -d '\r' >&2
    else
        printf '\n==> the serial console (%s) is empty: the kernel never printed\n' "$RUN_DIR/console.log" >&2
    fi
    if [ -s "$RUN_DIR/qemu.log" ]; then
        printf '\n==> qemu said (%s)\n' "$RUN_DIR/qemu.log" >&2
        tail -n 20 "$RUN_DIR/qemu.log" >&2
    fi
    vm_die "$*"
}

# Waits for the guest while streaming the job's output; fails on no boot,
# timeout, or a guest that ends without a status.
supervise() {
    local start=$SECONDS started_at='' status_at='' now
    while kill -0 "$QEMU_PID" 2>/dev/null; do
        now=$((SECONDS - start))
        if [ -z "$started_at" ] && [ -f "$RUN_DIR/started" ]; then
            started_at=$now
        fi
        if [ -z "$status_at" ] && [ -f "$RUN_DIR/status" ]; then
            status_at=$now
        fi
        if [ -z "$started_at" ] && [ "$now" -ge "$BOOT_TIMEOUT" ]; then
            fail "$RUN_DIR: the guest did not start the job within ${BOOT_TIMEOUT}s (boot timeout)"
        fi
        if [ -z "$status_at" ] && [ "$now" -ge "$TIMEOUT" ]; then
            fail "$RUN_DIR: the job did not finish within ${TIMEOUT}s (timeout)"
        fi
        # The status is in; a guest that does not power off is not a
        # failure of the job, only slow to die.
        if [ -n "$status_at" ] && [ $((now - status_at)) -ge 60 ]; then
            log "the guest did not power off 60s after the job ended; stopping it"
            kill "$QEMU_PID" 2>/dev/null || true
        fi
        sleep 1
    done
    local qemu_status=0
    wait "$QEMU_PID" || qemu_status=$?
    QEMU_PID=''
    # tail exits (--pid) once qemu is gone and it has read the rest.
    wait "$TAIL_PID" 2>/dev/null || true
    TAIL_PID=''
    now=$((SECONDS - start))
    [ -n "$started_at" ] || fail "$RUN_DIR: the guest stopped (qemu status $qemu_status) before the job started"
    [ -s "$RUN_DIR/status" ] || fail "$RUN_DIR: the guest stopped (qemu status $qemu_status) but the job reported no status"
    log "vm: job started ${started_at}s after qemu did, status after ${status_at:-$now}s, qemu gone after ${now}s"
}

run_job() {
    local img="$1"
    write_job
    qemu_args "$img" "$KERNEL_CMDLINE hako.vm=job systemd.mask=serial-getty@ttyS0.service"
    log "booting the guest for the job (output: $RUN_DIR)"
    qemu-system-x86_64 "${QEMU_ARGS[@]}" \
        -chardev "file,id=con,path=$RUN_DIR/console.log" -serial chardev:con \
        </dev/null >"$RUN_DIR/qemu.log" 2>&1 &
    QEMU_PID=$!
    tail -F -n +1 --pid="$QEMU_PID" "$RUN_DIR/output.log" 2>/dev/null &
    TAIL_PID=$!
    supervise
    local status
    status="$(cat "$RUN_DIR/status")"
    [[ "$status" =~ ^[0-9]+$ ]] || fail "$RUN_DIR/status: not an exit status: $status"
    [ "$status" -eq 0 ] || log "vm: the job failed with status $status (output: $RUN_DIR/output.log)"
    return "$status"
}

main() {
    parse_args "$@"
    require_root
    command -v qemu-system-x86_64 >/dev/null || install_packages "${VM_HOST_PACKAGES[@]}"
    local img
    img="$("$HAKO_VM_DIR/image.sh")" || vm_die "the guest image could not be built (scripts/vm/image.sh)"
    for f in root.img vmlinuz initrd.img; do
        [ -f "$img/$f" ] || vm_die "$img/$f: missing from the cached image (remove $img to rebuild)"
    done
    prepare_run_dir
    trap cleanup EXIT
    trap 'fail "interrupted"' INT TERM
    if [ "$MODE" = shell ]; then
        run_shell "$img"
    fi
    run_job "$img"
}

main "$@"
