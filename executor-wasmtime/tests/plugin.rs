//! The engine through its plugin, as hako loads it.

#[test]
fn through_the_plugin() {
    hako_executors::testing::conformance::through_the_plugin(hako_executors::EngineKind::Wasmtime);
}
