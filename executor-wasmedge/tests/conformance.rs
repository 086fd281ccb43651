//! The conformance suite every engine passes (`hako_executors::testing`).

use hako_executor_wasmedge::WasmEdge;

hako_executors::conformance_tests!(WasmEdge);
