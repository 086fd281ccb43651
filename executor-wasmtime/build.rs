//! Links the plugin with packed relative relocations, and with its text
//! layout when it has one.

include!("../scripts/link/packed_relocs.rs");
include!("../scripts/text-layout/linker.rs");

fn main() {
    pack_relative_relocs("cdylib", false);
    text_layout("cdylib");
}
