//! `hako checkpoint` and `hako restore`: runc does these through CRIU,
//! which hako does not support. They exist so that a caller gets the real
//! reason, naming the container, rather than "unrecognized subcommand".

use crate::error::{Error, Result};

/// Refuses `action` for the container named in `args`.
pub fn refuse(action: &str, args: &[String]) -> Result<()> {
    Err(Error::Invalid(match container_id(args) {
        Some(id) => {
            format!("{action} of container {id:?} is not supported: hako has no criu support")
        }
        None => format!("{action} is not supported: hako has no criu support"),
    }))
}

/// The container id of a runc-style command line: its last argument,
/// unless that is a flag.
fn container_id(args: &[String]) -> Option<&str> {
    args.last()
        .map(String::as_str)
        .filter(|last| !last.starts_with('-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn the_id_is_the_last_argument() {
        assert_eq!(
            container_id(&strings(&[
                "--image-path",
                "/tmp/img",
                "--leave-running",
                "web"
            ])),
            Some("web")
        );
        assert_eq!(container_id(&strings(&["--leave-running"])), None);
        assert_eq!(container_id(&[]), None);
    }

    #[test]
    fn the_refusal_names_the_container() {
        let err = refuse("checkpoint", &strings(&["--image-path", "x", "web"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "checkpoint of container \"web\" is not supported: hako has no criu support"
        );
        let err = refuse("restore", &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "restore is not supported: hako has no criu support"
        );
    }
}
