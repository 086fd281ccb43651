//! Running the prepared workload, the last thing init and `hako exec` do.
//!
//! Once it runs, a panic inside an engine is one line on the container's
//! stderr, never a backtrace, and it never unwinds further: the set-up
//! code's channel is closed by then, and its descriptor number may be a
//! guest's file.

use hako_executors::{ExecutorError, Prepared};

/// Runs `prepared` and returns the exit code the process must end with.
/// An in-process guest shows `args`, its own argv, as the process's
/// command line.
pub fn run(prepared: Box<dyn Prepared>, args: &[String]) -> i32 {
    if !prepared.replaces_process() {
        super::proctitle::show(args);
    }
    quiet_panics();
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| prepared.run()));
    match ran {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            eprintln!("hako: error: {e}");
            e.exit_code()
        }
        Err(payload) => {
            eprintln!(
                "hako: error: {}",
                panic_line(payload_text(payload.as_ref()))
            );
            hako_executors::error::EXIT_FAILURE
        }
    }
}

/// A panic's message, or what stands for one.
fn payload_text(payload: &(dyn std::any::Any + Send)) -> &str {
    hako_executors::error::panic_text(payload).unwrap_or("a non-string payload")
}

/// The one line a panic of the workload's engine is reported with.
fn panic_line(payload: &str) -> String {
    format!("the engine panicked: {}", ExecutorError::one_line(&payload))
}

/// Replaces the default panic output (several lines, maybe a backtrace):
/// the main thread's panic is reported by [`run`] once caught; another
/// thread's (an engine's worker) is reported here, in one line.
fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        if thread.name() == Some("main") {
            return;
        }
        let what = payload_text(info.payload());
        eprintln!(
            "hako: error: thread {}: {}",
            thread.name().unwrap_or("unnamed"),
            panic_line(what)
        );
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Panics;

    impl Prepared for Panics {
        fn run(self: Box<Self>) -> Result<i32, ExecutorError> {
            panic!("spawning a worker thread failed\n  Operation not permitted.");
        }

        // Says so only to keep [`run`] from retitling the test process.
        fn replaces_process(&self) -> bool {
            true
        }
    }

    #[test]
    fn a_panic_is_one_line_and_exit_code_one() {
        assert_eq!(
            panic_line("spawning a worker thread failed\n  Operation not permitted."),
            "the engine panicked: spawning a worker thread failed: Operation not permitted"
        );
        // The hook is process-wide: restore the default after the run.
        let code = run(Box::new(Panics), &[]);
        let _ = std::panic::take_hook();
        assert_eq!(code, 1);
    }
}
