//! `hako spec`: write a starting config.json.

use oci_spec::runtime::Spec;

use crate::cli::SpecArgs;
use crate::error::{Context, Error, Result};

/// The default spec (runc's, with hako's hostname) or its rootless variant
/// for the current user.
pub fn default_spec(rootless: bool) -> Spec {
    let mut spec = if rootless {
        Spec::rootless(
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        )
    } else {
        Spec::default()
    };
    spec.set_version(crate::state::OCI_VERSION.into());
    spec.set_hostname(Some("hako".into()));
    spec
}

/// `spec`.
pub fn run(args: &SpecArgs) -> Result<()> {
    let path = args.bundle.join("config.json");
    if path.exists() {
        return Err(Error::invalid(format!(
            "{} already exists: remove it first",
            path.display()
        )));
    }
    let text = serde_json::to_string_pretty(&default_spec(args.rootless))
        .map_err(|e| Error::invalid(format!("encoding spec: {e}")))?;
    std::fs::write(&path, text + "\n").ctx(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_specs_validate() {
        for rootless in [false, true] {
            let spec = default_spec(rootless);
            crate::spec::validate(&spec, std::path::Path::new("/b")).unwrap();
            let text = serde_json::to_vec(&spec).unwrap();
            crate::spec::parse(&text).unwrap();
        }
        let rootless = default_spec(true);
        assert!(crate::spec::has_namespace(
            &rootless,
            oci_spec::runtime::LinuxNamespaceType::User
        ));
    }
}
