//! wasmer-wasix's task manager for a guest that runs on init's thread
//! alone.
//!
//! wasmer-wasix's own manager needs a multi-thread tokio runtime: a worker
//! drives the timers that end a guest's sleeps, so even a guest that never
//! asks for a thread needs one, and cannot run under `pids.max` = 1.
//! [`GuestTasks`] starts no thread until something needs one:
//!
//! * a sleep ([`VirtualTaskManager::sleep_now`]) waits on the guest's own
//!   thread, on a [`Nudge`] with the sleep's timeout, so that a stdin
//!   becoming readable still ends a poll that has a timeout;
//! * anything that runs elsewhere (a WASIX guest's threads, background
//!   work, host networking) starts a tokio runtime with one worker, and
//!   from then on sleeps are tokio's timers, which every other waker can
//!   cut short. A runtime that cannot start (a `pids.max` too small) is an
//!   error for that request only.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use wasmer_wasix::runtime::task_manager::tokio::TokioTaskManager;
use wasmer_wasix::runtime::task_manager::{TaskWasm, VirtualTaskManager};
use wasmer_wasix::WasiThreadError;

use crate::nudge::Nudge;

/// The threads, once started: the runtime and wasmer-wasix's manager on it.
#[derive(Debug)]
struct Threads {
    runtime: Option<tokio::runtime::Runtime>,
    tasks: TokioTaskManager,
}

impl Drop for Threads {
    fn drop(&mut self) {
        // A thread stuck in a slow operation must not keep init from
        // exiting.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// A task manager that keeps a guest on its own thread until it asks for
/// more.
#[derive(Debug)]
pub(crate) struct GuestTasks {
    threads: OnceLock<Result<Threads, String>>,
    nudge: Arc<Nudge>,
}

impl GuestTasks {
    /// A manager with no thread started; sleeps wait on `nudge`.
    pub(crate) fn new(nudge: Arc<Nudge>) -> Self {
        GuestTasks {
            threads: OnceLock::new(),
            nudge,
        }
    }

    /// The threads, started now if they were not: the first call that
    /// needs another thread pays for them.
    pub(crate) fn threads(&self) -> Result<&TokioTaskManager, String> {
        self.threads
            .get_or_init(|| {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("wasmer-tokio")
                    .enable_all()
                    .build()
                    .map_err(|e| format!("starting wasmer's threads: {e}"))?;
                let tasks = TokioTaskManager::new(runtime.handle().clone());
                Ok(Threads {
                    runtime: Some(runtime),
                    tasks,
                })
            })
            .as_ref()
            .map(|t| &t.tasks)
            .map_err(Clone::clone)
    }

    /// Whether [`GuestTasks::threads`] has started them.
    fn started(&self) -> Option<&TokioTaskManager> {
        match self.threads.get() {
            Some(Ok(t)) => Some(&t.tasks),
            _ => None,
        }
    }

    /// The threads, or for a guest's request when they cannot start, the
    /// error wasmer-wasix has for that (the guest sees ENOTSUP).
    fn threads_or_unsupported(&self) -> Result<&TokioTaskManager, WasiThreadError> {
        self.threads().map_err(|_| WasiThreadError::Unsupported)
    }
}

impl VirtualTaskManager for GuestTasks {
    fn sleep_now(&self, time: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + Sync>> {
        match self.started() {
            Some(tasks) => tasks.sleep_now(time),
            None => Box::pin(Sleep {
                duration: time,
                deadline: None,
                nudge: Arc::clone(&self.nudge),
            }),
        }
    }

    fn task_shared(
        &self,
        task: Box<
            dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> + Send + 'static,
        >,
    ) -> Result<(), WasiThreadError> {
        self.threads_or_unsupported()?.task_shared(task)
    }

    fn task_wasm(&self, task: TaskWasm) -> Result<(), WasiThreadError> {
        self.threads_or_unsupported()?.task_wasm(task)
    }

    fn task_dedicated(
        &self,
        task: Box<dyn FnOnce() + Send + 'static>,
    ) -> Result<(), WasiThreadError> {
        self.threads_or_unsupported()?.task_dedicated(task)
    }

    fn thread_parallelism(&self) -> Result<usize, WasiThreadError> {
        Ok(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }
}

/// A sleep on the guest's own thread.
///
/// The first poll only notes the deadline and asks to be polled again:
/// whatever the sleep races against (wasmer-wasix's `select!`s poll in
/// random order) gets a look first, so a sleep never holds up work that
/// is ready. Later polls block until the deadline or a nudge.
#[derive(Debug)]
struct Sleep {
    duration: Duration,
    deadline: Option<Instant>,
    nudge: Arc<Nudge>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let now = Instant::now();
        let deadline = match self.deadline {
            Some(d) => d,
            None => {
                self.deadline = Some(now + self.duration);
                if self.duration.is_zero() {
                    return Poll::Ready(());
                }
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        };
        if now >= deadline {
            return Poll::Ready(());
        }
        self.nudge.wait(deadline - now);
        if Instant::now() >= deadline {
            return Poll::Ready(());
        }
        // Nudged, or a signal: let the rest of the race look again.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::threads_of_this_process;

    /// Polls `f` on this thread as wasmer-wasix's syscalls do.
    fn block_on<F: Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    #[test]
    fn a_sleep_takes_its_time_and_no_thread() {
        let tasks = GuestTasks::new(Arc::new(Nudge::new().unwrap()));
        let before = threads_of_this_process();
        let start = Instant::now();
        block_on(tasks.sleep_now(Duration::from_millis(50)));
        assert!(start.elapsed() >= Duration::from_millis(50));
        assert!(tasks.started().is_none());
        // Other tests of this binary may start or end threads meanwhile;
        // this one started none of its own.
        assert!(threads_of_this_process() <= before + 1);
    }

    #[test]
    fn the_first_poll_of_a_sleep_does_not_block() {
        let tasks = GuestTasks::new(Arc::new(Nudge::new().unwrap()));
        let mut sleep = tasks.sleep_now(Duration::from_secs(3600));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(sleep.as_mut().poll(&mut cx).is_pending());
    }

    #[test]
    fn a_nudge_ends_a_block_early_without_ending_the_sleep() {
        let nudge = Arc::new(Nudge::new().unwrap());
        let tasks = GuestTasks::new(Arc::clone(&nudge));
        let mut sleep = tasks.sleep_now(Duration::from_secs(3600));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(sleep.as_mut().poll(&mut cx).is_pending());
        nudge.nudge();
        // Returns at once (the test would hang otherwise), still pending.
        assert!(sleep.as_mut().poll(&mut cx).is_pending());
    }

    #[test]
    fn work_elsewhere_starts_the_threads_and_sleeps_move_to_them() {
        let tasks = GuestTasks::new(Arc::new(Nudge::new().unwrap()));
        let (tx, rx) = std::sync::mpsc::channel();
        tasks
            .task_dedicated(Box::new(move || tx.send(7).unwrap()))
            .unwrap();
        assert_eq!(rx.recv().unwrap(), 7);
        assert!(tasks.started().is_some());
        let start = Instant::now();
        tasks
            .threads()
            .unwrap()
            .runtime_handle()
            .block_on(tasks.sleep_now(Duration::from_millis(20)));
        assert!(start.elapsed() >= Duration::from_millis(20));
    }
}
