//! Checks a module against what WasmEdge provides, before instantiating it:
//! WasmEdge itself only reports "unknown import", without saying which.

use std::fmt;
use std::path::Path;

use hako_executors::ExecutorError;
use wasmedge_sdk::wasi::WasiModule;
use wasmedge_sdk::{ExternalInstanceType, FuncType, ValType};
use wasmedge_sys::instance::function::AsFunc;
use wasmedge_sys::{AsInstance, Module};

use crate::errors;

/// The function a WASI command exports for the host to call.
pub(crate) const ENTRY: &str = "_start";

/// Checks that every import is a function of `wasi` with the same type, and
/// that the module exports `_start: [] -> []`.
pub(crate) fn check(path: &Path, module: &Module, wasi: &WasiModule) -> Result<(), ExecutorError> {
    let provider = wasi.name();
    for import in module.imports() {
        let (from, name) = (import.module_name(), import.name());
        let fail = |what: fmt::Arguments<'_>| {
            errors::compile(path, format_args!("import {from}::{name}: {what}"))
        };
        if from != provider {
            return Err(fail(format_args!(
                "unknown import (wasmedge provides only {provider})"
            )));
        }
        let want = match import.ty() {
            Ok(ExternalInstanceType::Func(ty)) => ty,
            Ok(other) => {
                return Err(fail(format_args!(
                    "is a {}, but {provider} provides only functions",
                    kind(&other)
                )))
            }
            Err(e) => return Err(fail(format_args!("{e}"))),
        };
        let have = match wasi.as_ref().get_func(&name) {
            Ok(func) => func.ty(),
            Err(_) => {
                return Err(fail(format_args!(
                    "unknown import ({provider} has no such function)"
                )))
            }
        };
        if have.as_ref() != Some(&want) {
            return Err(fail(format_args!(
                "has type {}, but {provider} defines it as {}",
                Sig(&want),
                have.as_ref()
                    .map_or("?".to_string(), |t| Sig(t).to_string())
            )));
        }
    }
    let entry = module.export().into_iter().find(|e| e.name() == ENTRY);
    match entry.map(|e| e.ty()) {
        Some(Ok(ExternalInstanceType::Func(ty)))
            if ty.args().is_empty() && ty.returns().is_empty() =>
        {
            Ok(())
        }
        Some(Ok(ExternalInstanceType::Func(ty))) => Err(errors::compile(
            path,
            format_args!("{ENTRY} has type {}, expected () -> ()", Sig(&ty)),
        )),
        Some(Ok(other)) => Err(errors::compile(
            path,
            format_args!("{ENTRY} is a {}, not a function", kind(&other)),
        )),
        Some(Err(e)) => Err(errors::compile(path, format_args!("{ENTRY}: {e}"))),
        None => Err(errors::compile(
            path,
            format_args!("no {ENTRY} function exported (not a wasi command module)"),
        )),
    }
}

/// Whether the module has a start function, which runs when it is
/// instantiated: such a module is instantiated by `run`, never at `create`.
pub(crate) fn has_start_function(bytes: &[u8]) -> bool {
    use wasmparser::Payload;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload {
            Ok(Payload::StartSection { .. }) => return true,
            // The start section precedes the code section.
            Ok(Payload::CodeSectionStart { .. }) | Ok(Payload::End(_)) => return false,
            Ok(_) => {}
            // WasmEdge validated it already; when in doubt, defer.
            Err(_) => return true,
        }
    }
    false
}

fn kind(ty: &ExternalInstanceType) -> &'static str {
    match ty {
        ExternalInstanceType::Func(_) => "function",
        ExternalInstanceType::Table(_) => "table",
        ExternalInstanceType::Memory(_) => "memory",
        ExternalInstanceType::Global(_) => "global",
    }
}

/// A function type as `(i32, i32) -> i32`.
struct Sig<'a>(&'a FuncType);

impl fmt::Display for Sig<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |types: &[ValType]| {
            types
                .iter()
                .map(|t| format!("{t:?}").to_ascii_lowercase())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let returns = self.0.returns();
        write!(f, "({}) -> ", list(self.0.args()))?;
        match returns.len() {
            1 => f.write_str(&list(returns)),
            _ => write!(f, "({})", list(returns)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_read_like_wat() {
        let t = FuncType::new(vec![ValType::I32, ValType::I64], vec![ValType::I32]);
        assert_eq!(Sig(&t).to_string(), "(i32, i64) -> i32");
        assert_eq!(Sig(&FuncType::new(vec![], vec![])).to_string(), "() -> ()");
    }

    #[test]
    fn start_sections_are_found() {
        let with =
            wat::parse_str("(module (func $s) (start $s) (func (export \"_start\")))").unwrap();
        let without = wat::parse_str("(module (func (export \"_start\")))").unwrap();
        assert!(has_start_function(&with));
        assert!(!has_start_function(&without));
    }
}
