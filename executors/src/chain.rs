//! The ordered executor chain.

use crate::cache::ArtifactCache;
use crate::detect::{self, Target};
use crate::error::ExecutorError;
use crate::executor::{Executor, Prepared};
use crate::workload::Workload;

/// Executors in the order they are asked; the first that takes a workload
/// runs it.
pub struct Chain {
    executors: Vec<Box<dyn Executor>>,
}

impl Chain {
    /// A chain of these executors, asked in order.
    pub fn new(executors: Vec<Box<dyn Executor>>) -> Self {
        Chain { executors }
    }

    /// Names of the executors, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.executors.iter().map(|e| e.name()).collect()
    }

    /// Detects what the workload is and lets the first willing executor
    /// prepare it (an engine compiling through `cache`, if given).
    pub fn prepare(
        &self,
        workload: &Workload,
        cache: Option<&dyn ArtifactCache>,
    ) -> Result<Box<dyn Prepared>, ExecutorError> {
        let target = detect::target(workload)?;
        tracing::debug!(?target, "workload detected");
        for executor in &self.executors {
            if let Some(prepared) = executor.prepare(workload, &target, cache)? {
                tracing::debug!(executor = executor.name(), "executor took the workload");
                return Ok(prepared);
            }
        }
        match target {
            Target::Wasm { engine, .. } => {
                let built_in: Vec<_> = self
                    .executors
                    .iter()
                    .filter_map(|e| e.engine())
                    .map(|e| e.name())
                    .collect();
                Err(ExecutorError::EngineNotBuiltIn {
                    engine,
                    built_in: if built_in.is_empty() {
                        "none".into()
                    } else {
                        built_in.join(", ")
                    },
                })
            }
            Target::Native => Err(ExecutorError::NoExecutor {
                chain: self.names().join(", "),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::ANNOTATION_VARIANT;
    use crate::wasm::{Preparer, WasiConfig, WasmExecutor, WasmModule};
    use crate::workload::{EngineKind, RuntimeOptions};
    use std::cell::Cell;
    use std::rc::Rc;

    struct Fixed(i32);
    impl Prepared for Fixed {
        fn run(self: Box<Self>) -> Result<i32, ExecutorError> {
            Ok(self.0)
        }
    }

    /// A fake engine that records whether it was ever asked to prepare.
    struct FakeEngine(EngineKind, Rc<Cell<bool>>);
    impl Preparer for FakeEngine {
        fn engine(&self) -> EngineKind {
            self.0
        }
        fn prepare(
            &self,
            module: WasmModule,
            _: WasiConfig,
            _: Option<&dyn ArtifactCache>,
        ) -> Result<Box<dyn Prepared>, ExecutorError> {
            self.1.set(true);
            assert!(module.bytes.starts_with(b"\0asm"));
            Ok(Box::new(Fixed(7)))
        }
    }

    struct Native;
    impl Executor for Native {
        fn name(&self) -> &'static str {
            "native"
        }
        fn prepare(
            &self,
            _: &Workload,
            t: &Target,
            _: Option<&dyn ArtifactCache>,
        ) -> Result<Option<Box<dyn Prepared>>, ExecutorError> {
            Ok(matches!(t, Target::Native).then(|| Box::new(Fixed(0)) as Box<dyn Prepared>))
        }
    }

    fn workload(root: &std::path::Path, annotations: &[(&str, &str)]) -> Workload {
        Workload {
            args: vec!["/m.wasm".into()],
            env: vec![],
            cwd: "/".into(),
            annotations: annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            root: root.into(),
            root_readonly: false,
            options: RuntimeOptions::default(),
        }
    }

    #[test]
    fn wasm_goes_to_its_engine_and_native_never_touches_engines() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("m.wasm"), b"\0asm\x01\0\0\0").unwrap();
        let used = Rc::new(Cell::new(false));
        let chain = Chain::new(vec![
            Box::new(WasmExecutor::new(FakeEngine(
                EngineKind::Wasmtime,
                used.clone(),
            ))),
            Box::new(Native),
        ]);
        assert_eq!(chain.names(), vec!["wasmtime", "native"]);

        let native = chain.prepare(&workload(dir.path(), &[]), None).unwrap();
        assert_eq!(native.run().unwrap(), 0);
        assert!(!used.get(), "a native workload initialised an engine");

        let wasm = chain
            .prepare(
                &workload(dir.path(), &[(ANNOTATION_VARIANT, "compat")]),
                None,
            )
            .unwrap();
        assert!(used.get());
        assert_eq!(wasm.run().unwrap(), 7);
    }

    #[test]
    fn missing_engine_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("m.wasm"), b"\0asm\x01\0\0\0").unwrap();
        let chain = Chain::new(vec![
            Box::new(WasmExecutor::new(FakeEngine(
                EngineKind::Wasmtime,
                Rc::default(),
            ))),
            Box::new(Native),
        ]);
        let w = workload(dir.path(), &[("run.oci.handler", "wasmer")]);
        let err = chain.prepare(&w, None).err().unwrap();
        assert_eq!(
            err.to_string(),
            "wasm engine wasmer is not built into this hako (built in: wasmtime)"
        );
    }
}
