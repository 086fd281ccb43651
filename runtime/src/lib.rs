//! hako
