//! The one path from a set-up process to its workload, shared by
//! container init and `hako exec`.
//!
//! ```text
//! arm:   close stray fds ─ module cache ─ attributes (user, caps, …)
//!        ─ executor chain prepares ─ on-exec labels ─ BeforeReady filter
//! ready: tell hako, naming the engine
//!        (init only: wait for `start`, startContainer hooks)
//! run:   stop logging ─ close hako's fds ─ in-process labels
//!        ─ AfterStart filter ─ the workload
//! ```
//!
//! Everything that can fail is in [`arm`], which reports to hako. After
//! [`Armed::report_ready`] there is no one to report to but the
//! workload's stderr, so [`Armed::run`] does as little as it can.

use std::os::fd::RawFd;

use hako_executors::cache::ArtifactCache;
use hako_executors::{Prepared, Workload};
use oci_spec::runtime::{Linux, Process};

use super::attributes::{self, Seccomp, SeccompWhen};
use super::channel::{ChildEnd, ToHako};
use super::module_cache::ChannelCache;
use crate::error::Result;
use crate::spec::ProcessPlan;

/// What a set-up process hands over.
pub struct Handover<'a> {
    /// The process to become.
    pub process: &'a Process,
    /// Its planned attributes.
    pub plan: &'a ProcessPlan,
    /// The container's `linux` section (seccomp profile, scheduling).
    pub linux: Option<&'a Linux>,
    /// The workload the executor chain is to run.
    pub workload: Workload,
    /// hako's own descriptors, open until the workload runs.
    pub hako_fds: Vec<RawFd>,
    /// Descriptors from 3 up that the workload inherits.
    pub preserved_fds: i32,
    /// Whether compiled modules go through hako's cache (init with a
    /// cache; `exec` compiles without one).
    pub module_cache: bool,
    /// The seccomp filter, if hako built it already (else it is built
    /// from the profile here).
    pub seccomp_filter: Option<libseccomp::ScmpFilterContext>,
}

/// A prepared workload, waiting to be run.
pub struct Armed {
    prepared: Box<dyn Prepared>,
    seccomp: Seccomp,
    /// The module cache, held until the workload runs (its channel and
    /// scratch directory are closed then).
    cache: Option<ChannelCache>,
    hako_fds: Vec<RawFd>,
    process: Process,
}

/// Everything before "ready": the steps that may still fail `create` or
/// `exec`.
pub fn arm(h: Handover<'_>, channel: &ChildEnd) -> Result<Armed> {
    // Close anything set-up left open before the engine opens its own,
    // and before a seccomp filter (loaded next unless noNewPrivileges)
    // can deny the closing: older profiles know no close_range.
    let mut keep = h.hako_fds.clone();
    keep.extend(crate::logging::file_fd());
    let sys = &crate::syscall::LinuxSyscall;
    super::fds::close_from(sys, 3 + h.preserved_fds, &keep)?;
    let cache = match h.module_cache {
        true => module_cache(&h.workload, channel)?,
        false => None,
    };
    let mut seccomp =
        attributes::apply(sys, h.process, h.plan, h.linux, h.seccomp_filter, channel)?;
    let lent = cache.as_ref().map(|c| c as &dyn ArtifactCache);
    let prepared = crate::engines::chain().prepare(&h.workload, lent)?;
    // An in-process guest is confined in `run`, right before it runs.
    if prepared.replaces_process() {
        crate::lsm::apply_process_labels(h.process, true)?;
    }
    attributes::load_seccomp(&mut seccomp, SeccompWhen::BeforeReady, Some(channel))?;
    Ok(Armed {
        prepared,
        seccomp,
        cache,
        hako_fds: h.hako_fds,
        process: h.process.clone(),
    })
}

/// The module cache, for a wasm workload only (nothing else compiles).
/// It is made before the workload's user and capabilities are taken: a
/// scratch directory is a mount, and only WasmEdge's compiler, which
/// works in files, needs one.
fn module_cache(workload: &Workload, channel: &ChildEnd) -> Result<Option<ChannelCache>> {
    use hako_executors::{detect::Intent, EngineKind};
    let intent = hako_executors::detect::intent(&workload.annotations, &workload.options);
    if matches!(intent, Ok(Intent::Native)) {
        return Ok(None);
    }
    let scratch = matches!(
        intent,
        Ok(Intent::Wasm(EngineKind::WasmEdge)
            | Intent::Sniff {
                engine: EngineKind::WasmEdge,
                ..
            })
    );
    ChannelCache::new(channel, scratch).map(Some)
}

impl Armed {
    /// Tells hako the workload is ready, naming its engine (none for a
    /// native program).
    pub fn report_ready(&self, channel: &ChildEnd) -> Result<()> {
        let engine = self.prepared.engine().map(|e| e.name().to_string());
        channel.send(&ToHako::Ready(engine))
    }

    /// Closes what the workload must not inherit, confines an in-process
    /// guest, loads the late seccomp filter and runs the workload. Returns
    /// its exit code, or `fail_code` if the last steps fail (reported on
    /// stderr: hako is no longer listening).
    pub fn run(mut self, fail_code: i32) -> i32 {
        // Nothing of hako's may reach the workload: the fifo, channel and
        // console socket are close-on-exec, but an in-process engine never
        // execs. Their owners are never dropped (the process ends with
        // _exit), so closing the raw descriptors here cannot double-close.
        crate::logging::detach();
        super::fds::close_placeholders();
        if let Some(cache) = &self.cache {
            cache.close();
        }
        for fd in &self.hako_fds {
            // SAFETY: see above; these descriptors belong to hako, not the
            // workload.
            unsafe { libc::close(*fd) };
        }
        // Labels are written once hako's descriptors are closed, and the
        // filter loaded after that, so it cannot block the label write.
        if !self.prepared.replaces_process() {
            if let Err(e) = crate::lsm::confine_in_process(&self.process) {
                eprintln!("hako: error: {e}");
                return fail_code;
            }
        }
        if let Err(e) = attributes::load_seccomp(&mut self.seccomp, SeccompWhen::AfterStart, None) {
            eprintln!("hako: error: {e}");
            return fail_code;
        }
        let args = self.process.args().clone().unwrap_or_default();
        super::workload::run(self.prepared, &args)
    }
}
