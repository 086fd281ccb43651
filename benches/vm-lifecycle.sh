#!/usr/bin/env bash
# benches/lifecycle.sh inside the test VM (Debian 12, systemd as PID 1,
# pure cgroup v2; scripts/vm/): hako, crun and runc each started directly,
# with no wrapper, since crun takes that host as it is. Builds the guest
# image on first use (cached). RUNS as for lifecycle.sh (default 40).
# The VM runs under TCG here: its times are far slower than the host's,
# and only the ratios between runtimes mean anything.
# shellcheck source-path=SCRIPTDIR source=../scripts/vm/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/vm/lib.sh"
require_root
HAKO_BIN="${HAKO_BIN:-$CARGO_TARGET_DIR/release/hako}"

job="$(mktemp -d /tmp/hako-vm-bench.XXXXXX)"
trap 'rm -rf "$job"' EXIT
vm_stage_hako "$job/stage" "$HAKO_BIN"
mkdir -p "$job/scripts"
cp -r "$HAKO_REPO/benches" "$job/"
cp "$HAKO_REPO/scripts/lib.sh" "$job/scripts/"
cat >"$job/job.sh" <<JOB
#!/bin/bash
set -euo pipefail
cd "\$(dirname "\$0")"
source stage/hako-env.sh
RUNS=${RUNS:-40} bash benches/lifecycle.sh
JOB
chmod +x "$job/job.sh"
"$HAKO_REPO/scripts/vm/run.sh" "$job"
