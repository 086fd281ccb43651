//! The wasmtime engine for hako (placeholder until the engine lands).
