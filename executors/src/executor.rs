//! The [`Executor`] and [`Prepared`] traits.

use crate::cache::ArtifactCache;
use crate::detect::Target;
use crate::error::ExecutorError;
use crate::workload::Workload;

/// One link of the executor chain.
///
/// An executor is asked once per container, inside container init, after the
/// container is fully isolated and before init reports that it is ready.
pub trait Executor {
    /// Short name used in logs and error messages.
    fn name(&self) -> &'static str;

    /// The wasm engine this executor runs, if it is one; the chain lists
    /// them when a container asks for an engine that is not built in.
    fn engine(&self) -> Option<crate::workload::EngineKind> {
        None
    }

    /// Takes the workload or declines it.
    ///
    /// `Ok(None)` declines: the chain asks the next executor. `Ok(Some(_))`
    /// takes it: everything that can fail before the guest runs (reading,
    /// parsing and compiling a module, resolving an executable) must have
    /// happened here, so that the failure surfaces at `create`. An engine
    /// compiles through `cache`, the runtime's compiled-module cache, when
    /// there is one.
    fn prepare(
        &self,
        workload: &Workload,
        target: &Target,
        cache: Option<&dyn ArtifactCache>,
    ) -> Result<Option<Box<dyn Prepared>>, ExecutorError>;
}

/// A workload that an executor has taken and made ready to run.
///
/// It lives in container init between `create` and `start`; it is never sent
/// across a fork, so it need not be `Clone` or `Send`.
pub trait Prepared {
    /// Runs the workload and returns the exit code init must exit with.
    ///
    /// An executor that replaces the process (execve) only returns on error.
    /// An in-process engine returns the guest's exit code; it never calls
    /// `exit` itself.
    fn run(self: Box<Self>) -> Result<i32, ExecutorError>;

    /// Whether [`Prepared::run`] replaces the process with another program
    /// (execve). Labels meant for the workload (AppArmor, SELinux) are then
    /// set for that exec; an in-process engine must take them on itself.
    fn replaces_process(&self) -> bool {
        false
    }

    /// The wasm engine that runs the workload, for a wasm workload.
    fn engine(&self) -> Option<crate::EngineKind> {
        None
    }
}
