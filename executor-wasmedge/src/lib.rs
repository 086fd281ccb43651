//! The wasmedge engine for hako (placeholder until the engine lands).
