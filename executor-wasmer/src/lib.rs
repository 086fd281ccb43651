//! The wasmer engine for hako (placeholder until the engine lands).
