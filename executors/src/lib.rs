//! The executor contract of hako.
//!
//! The core runtime isolates a container and then, as the very last step of
//! container init, hands the workload to a [`Chain`] of [`Executor`]s. Each
//! executor looks at the [`Workload`] and the [`Target`] that detection
//! derived from it, and either declines or returns a [`Prepared`] workload.
//! Preparation happens during `create` (so a bad workload fails `create`),
//! running happens after `start`, in the same process, and returns the exit
//! status instead of exiting: the runtime decides how init ends.
//!
//! Engines plug in through [`wasm::WasmEngine`]; the crates
//! `hako-executor-wasmtime`, `-wasmedge` and `-wasmer` depend only on this
//! crate. The [`execve::ExecveExecutor`] is always last and runs everything
//! that is not WebAssembly.

pub mod artifact;
pub mod cache;
pub mod chain;
pub mod code_pages;
pub mod detect;
pub mod entrypoint;
pub mod error;
pub mod executor;
pub mod execve;
pub mod plugin;
pub mod plugin_cache;
pub mod scratch;
pub mod signals;
#[cfg(feature = "testing")]
pub mod testing;
pub mod wasm;
pub mod workload;

pub use chain::Chain;
pub use detect::Target;
pub use error::ExecutorError;
pub use executor::{Executor, Prepared};
pub use workload::{EngineKind, RuntimeOptions, Workload};
