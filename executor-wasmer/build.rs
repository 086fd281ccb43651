//! Links the plugin with its text layout, when it has one.

include!("../scripts/text-layout/linker.rs");

fn main() {
    text_layout("cdylib");
}
