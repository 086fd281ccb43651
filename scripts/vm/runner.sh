#!/bin/bash
# Runs inside the guest, as root, from the control share that run.sh
# passes (/run/hako-vm/ctl): copies the host's directory in, waits for
# systemd to settle, runs the job, and writes its output and exit status
# back to the share. The guest powers off when this exits
# (hako-vm.service). Not part of the image: it changes without a rebuild.
set -uo pipefail

ctl=/run/hako-vm/ctl
# World-readable, unlike /root: rootless tests run the staged hako as a
# user.
work=/var/lib/hako-vm/job

say() { printf 'hako-vm: %s\n' "$*" | tee -a "$ctl/output.log" >/dev/console; }

# Atomic writes: the host polls these files.
report() {
    printf '%s\n' "$2" >"$ctl/$1.tmp" && mv -f "$ctl/$1.tmp" "$ctl/$1"
}

uptime_s() { cut -d' ' -f1 /proc/uptime; }

report started "$(uptime_s)"
say "runner started $(uptime_s)s after kernel start ($(uname -r))"

# The host's directory at $work, writable, on local filesystems: test
# binaries run from ext4 as they would on a real machine, never from 9p.
# The input disk (read-only ext4) is used in place under an overlay, which
# saves copying it; a 9p input is copied.
input_failed() {
    say "error: cannot mount the input ($1)"
    report status 125
    exit 1
}
mkdir -p "$work"
if [ -e "$ctl/input" ]; then
    in=/run/hako-vm/in
    mkdir -p "$in"
    t0=$(uptime_s)
    if [ "$(cat "$ctl/input")" = disk ]; then
        # The second virtio disk; no waiting for udev to name it by label.
        mount -t ext4 -o ro,noload /dev/vdb "$in" || input_failed /dev/vdb
        mkdir -p /var/lib/hako-vm/upper /var/lib/hako-vm/work
        mount -t overlay -o "lowerdir=$in,upperdir=/var/lib/hako-vm/upper,workdir=/var/lib/hako-vm/work" \
            hako-job "$work" || input_failed "overlay on $work"
        say "input ($(du -sh "$in" | cut -f1)) at $work"
    else
        mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,ro hakoin "$in" || input_failed 9p
        cp -a "$in/." "$work/"
        umount "$in"
        say "copied the input ($(du -sh "$work" | cut -f1)) in $(awk "BEGIN{print $(uptime_s) - $t0}")s"
    fi
fi

# The job sees a settled system, as a user's login would. "degraded" is
# reported but not fatal: the job decides what it needs.
state="$(timeout "${HAKO_VM_SETTLE_TIMEOUT:-600}" systemctl is-system-running --wait 2>&1)"
say "system $state at $(uptime_s)s"
if [ "$state" != running ]; then
    systemctl --failed --no-legend --plain 2>&1 | sed 's/^/hako-vm: failed unit: /' | tee -a "$ctl/output.log" >/dev/console
fi

mkdir -p "$ctl/files"
cd "$work" || exit 1
t0=$(uptime_s)
HAKO_VM=1 HAKO_VM_OUT="$ctl/files" /bin/bash "$ctl/job.sh" </dev/null >>"$ctl/output.log" 2>&1
rc=$?
say "job exited with status $rc after $(awk "BEGIN{print $(uptime_s) - $t0}")s"
sync
report status "$rc"
