//! Built for wasm32-wasip2, a plain `main` becomes a component exporting
//! `wasi:cli/run`: the smallest guest that tells a component-model path in
//! the runtime apart from the preview 1 module path.

use std::io::Write;

fn main() {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "hello from a component");
    for (i, arg) in std::env::args().enumerate() {
        let _ = writeln!(out, "arg[{i}]={arg}");
    }
    // Returning from main flushes too, but a test reading the pipe should
    // not depend on that.
    let _ = out.flush();
}
