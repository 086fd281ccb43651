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
    hako_executors::error::quiet_panics();
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| prepared.run()));
    match ran {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            eprintln!("hako: error: {e}");
            e.exit_code()
        }
        Err(payload) => {
            let e = ExecutorError::Panic(hako_executors::error::panic_line(payload.as_ref()));
            eprintln!("hako: error: {e}");
            e.exit_code()
        }
    }
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
        let payload: Box<dyn std::any::Any + Send> =
            Box::new("spawning a worker thread failed\n  Operation not permitted.");
        assert_eq!(
            ExecutorError::Panic(hako_executors::error::panic_line(payload.as_ref())).to_string(),
            "the engine panicked: spawning a worker thread failed: Operation not permitted"
        );
        // The hook is process-wide: restore the default after the run.
        let code = run(Box::new(Panics), &[]);
        let _ = std::panic::take_hook();
        assert_eq!(code, 1);
    }
}
