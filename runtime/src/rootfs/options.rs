//! Parsing OCI mount options into mount(2) flags, propagation changes,
//! recursive attributes and filesystem data.

use nix::mount::MsFlags;

/// `MOUNT_ATTR_*` bits for mount_setattr(2), used by the recursive
/// (`rro`, `rnosuid`, …) options.
pub mod attr {
    /// Read-only.
    pub const RDONLY: u64 = 0x1;
    /// No set-user-id.
    pub const NOSUID: u64 = 0x2;
    /// No devices.
    pub const NODEV: u64 = 0x4;
    /// No exec.
    pub const NOEXEC: u64 = 0x8;
    /// Mask of the atime bits.
    pub const ATIME_MASK: u64 = 0x70;
    /// relatime.
    pub const RELATIME: u64 = 0x0;
    /// noatime.
    pub const NOATIME: u64 = 0x10;
    /// strictatime.
    pub const STRICTATIME: u64 = 0x20;
    /// nodiratime.
    pub const NODIRATIME: u64 = 0x80;
    /// Do not follow symlinks.
    pub const NOSYMFOLLOW: u64 = 0x0020_0000;
}

/// The parsed options of one mount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags passed to mount(2).
    pub flags: MsFlags,
    /// Propagation changes applied after the mount, in order.
    pub propagation: Vec<MsFlags>,
    /// Recursive attributes to set with mount_setattr(2).
    pub attr_set: u64,
    /// Recursive attributes to clear with mount_setattr(2).
    pub attr_clr: u64,
    /// Filesystem-specific options (`mode=755`, `size=64m`, `newinstance`).
    pub data: Vec<String>,
    /// `tmpcopyup`: fill a new tmpfs with what the directory held.
    pub copy_up: bool,
    /// `idmap` (false) or `ridmap` (true): an id-mapped bind mount,
    /// recursive or not.
    pub idmap: Option<bool>,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            propagation: Vec::new(),
            attr_set: 0,
            attr_clr: 0,
            data: Vec::new(),
            idmap: None,
            copy_up: false,
        }
    }
}

impl MountOptions {
    /// Whether this is a bind mount (`bind` or `rbind`).
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }

    /// Data as the comma-separated string mount(2) takes.
    pub fn data_string(&self) -> String {
        self.data.join(",")
    }
}

/// Parses a propagation option (`rprivate`, `shared`, …).
pub fn propagation(option: &str) -> Option<MsFlags> {
    Some(match option {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    })
}

/// Every option name hako interprets itself (for `hako features`).
pub const KNOWN: &[&str] = &[
    "async",
    "atime",
    "bind",
    "defaults",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "iversion",
    "lazytime",
    "loud",
    "mand",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "noiversion",
    "nolazytime",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "nosymfollow",
    "rbind",
    "relatime",
    "remount",
    "ro",
    "rw",
    "silent",
    "strictatime",
    "suid",
    "symfollow",
    "sync",
    "private",
    "rprivate",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "unbindable",
    "runbindable",
    "rro",
    "rrw",
    "rnosuid",
    "rsuid",
    "rnodev",
    "rdev",
    "rnoexec",
    "rexec",
    "rnodiratime",
    "rdiratime",
    "rrelatime",
    "rnorelatime",
    "rnoatime",
    "ratime",
    "rstrictatime",
    "rnostrictatime",
    "rnosymfollow",
    "rsymfollow",
    "tmpcopyup",
    "idmap",
    "ridmap",
];

/// Parses a mount's options. Unknown options are filesystem data; an
/// option with a NUL byte is refused (mount(2) would cut it there).
pub fn parse(options: &[String]) -> Result<MountOptions, String> {
    let mut o = MountOptions::default();
    for opt in options {
        let opt = opt.as_str();
        if opt.contains('\0') {
            return Err(format!("option {opt:?} contains a NUL byte"));
        }
        if let Some(p) = propagation(opt) {
            o.propagation.push(p);
            continue;
        }
        if let Some((set, flag)) = flag(opt) {
            if set {
                o.flags.insert(flag);
            } else {
                o.flags.remove(flag);
            }
            continue;
        }
        if let Some(mode) = atime(opt) {
            // The atime modes are one field: clear all of it, set the mode.
            o.attr_clr |= attr::ATIME_MASK;
            o.attr_set = (o.attr_set & !attr::ATIME_MASK) | mode;
            continue;
        }
        if let Some((set, bits)) = recursive(opt) {
            if set {
                o.attr_set |= bits;
                o.attr_clr &= !bits;
            } else {
                o.attr_clr |= bits;
                o.attr_set &= !bits;
            }
            continue;
        }
        match opt {
            "defaults" => {}
            "tmpcopyup" => o.copy_up = true,
            "idmap" => o.idmap = Some(o.idmap.unwrap_or(false)),
            "ridmap" => o.idmap = Some(true),
            "" => {}
            data => o.data.push(data.to_string()),
        }
    }
    Ok(o)
}

fn flag(opt: &str) -> Option<(bool, MsFlags)> {
    Some(match opt {
        "async" => (false, MsFlags::MS_SYNCHRONOUS),
        "atime" => (false, MsFlags::MS_NOATIME),
        "bind" => (true, MsFlags::MS_BIND),
        "dev" => (false, MsFlags::MS_NODEV),
        "diratime" => (false, MsFlags::MS_NODIRATIME),
        "dirsync" => (true, MsFlags::MS_DIRSYNC),
        "exec" => (false, MsFlags::MS_NOEXEC),
        "iversion" => (true, MsFlags::MS_I_VERSION),
        "lazytime" => (true, MsFlags::MS_LAZYTIME),
        "loud" => (false, MsFlags::MS_SILENT),
        "mand" => (true, MsFlags::MS_MANDLOCK),
        "noatime" => (true, MsFlags::MS_NOATIME),
        "nodev" => (true, MsFlags::MS_NODEV),
        "nodiratime" => (true, MsFlags::MS_NODIRATIME),
        "noexec" => (true, MsFlags::MS_NOEXEC),
        "noiversion" => (false, MsFlags::MS_I_VERSION),
        "nolazytime" => (false, MsFlags::MS_LAZYTIME),
        "nomand" => (false, MsFlags::MS_MANDLOCK),
        "norelatime" => (false, MsFlags::MS_RELATIME),
        "nostrictatime" => (false, MsFlags::MS_STRICTATIME),
        "nosuid" => (true, MsFlags::MS_NOSUID),
        "nosymfollow" => (true, MsFlags::from_bits_retain(libc::MS_NOSYMFOLLOW)),
        "symfollow" => (false, MsFlags::from_bits_retain(libc::MS_NOSYMFOLLOW)),
        "rbind" => (true, MsFlags::MS_BIND | MsFlags::MS_REC),
        "relatime" => (true, MsFlags::MS_RELATIME),
        "remount" => (true, MsFlags::MS_REMOUNT),
        "ro" => (true, MsFlags::MS_RDONLY),
        "rw" => (false, MsFlags::MS_RDONLY),
        "silent" => (true, MsFlags::MS_SILENT),
        "strictatime" => (true, MsFlags::MS_STRICTATIME),
        "suid" => (false, MsFlags::MS_NOSUID),
        "sync" => (true, MsFlags::MS_SYNCHRONOUS),
        _ => return None,
    })
}

/// The recursive atime options; turning a mode off falls back to relatime.
fn atime(opt: &str) -> Option<u64> {
    Some(match opt {
        "rnoatime" => attr::NOATIME,
        "rstrictatime" => attr::STRICTATIME,
        "rrelatime" | "ratime" | "rnorelatime" | "rnostrictatime" => attr::RELATIME,
        _ => return None,
    })
}

fn recursive(opt: &str) -> Option<(bool, u64)> {
    Some(match opt {
        "rro" => (true, attr::RDONLY),
        "rrw" => (false, attr::RDONLY),
        "rnosuid" => (true, attr::NOSUID),
        "rsuid" => (false, attr::NOSUID),
        "rnodev" => (true, attr::NODEV),
        "rdev" => (false, attr::NODEV),
        "rnoexec" => (true, attr::NOEXEC),
        "rexec" => (false, attr::NOEXEC),
        "rnodiratime" => (true, attr::NODIRATIME),
        "rdiratime" => (false, attr::NODIRATIME),
        "rnosymfollow" => (true, attr::NOSYMFOLLOW),
        "rsymfollow" => (false, attr::NOSYMFOLLOW),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(opts: &[&str]) -> MountOptions {
        parse(&opts.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn podman_proc_and_dev() {
        let o = p(&["nosuid", "noexec", "nodev"]);
        assert_eq!(
            o.flags,
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV
        );
        let o = p(&["nosuid", "strictatime", "mode=755", "size=65536k"]);
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(o.data_string(), "mode=755,size=65536k");
        let o = p(&[
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
            "gid=5",
        ]);
        assert_eq!(
            o.data,
            vec!["newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]
        );
    }

    #[test]
    fn binds_and_propagation() {
        let o = p(&["rbind", "rprivate", "ro", "nosuid"]);
        assert!(o.is_bind());
        assert!(o
            .flags
            .contains(MsFlags::MS_REC | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID));
        assert_eq!(o.propagation, vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC]);
        let o = p(&["bind", "shared", "slave"]);
        assert!(!o.flags.contains(MsFlags::MS_REC));
        assert_eq!(o.propagation, vec![MsFlags::MS_SHARED, MsFlags::MS_SLAVE]);
    }

    #[test]
    fn later_options_win() {
        let o = p(&["ro", "rw"]);
        assert!(!o.flags.contains(MsFlags::MS_RDONLY));
        let o = p(&["rw", "ro"]);
        assert!(o.flags.contains(MsFlags::MS_RDONLY));
    }

    #[test]
    fn recursive_attributes() {
        let o = p(&["rbind", "rro", "rnosuid", "rnoatime"]);
        assert_eq!(o.attr_set, attr::RDONLY | attr::NOSUID | attr::NOATIME);
        assert_eq!(o.attr_clr, attr::ATIME_MASK);
        let o = p(&["rnoatime", "ratime"]);
        assert_eq!(o.attr_set, attr::RELATIME);
        let o = p(&["rro", "rrw"]);
        assert_eq!(o.attr_set, 0);
        assert_eq!(o.attr_clr, attr::RDONLY);
    }

    #[test]
    fn extensions_and_refusals() {
        assert!(p(&["tmpcopyup", "defaults"]).copy_up);
        assert_eq!(p(&["rbind", "idmap"]).idmap, Some(false));
        assert_eq!(p(&["ridmap", "idmap"]).idmap, Some(true));
        assert_eq!(p(&["bind"]).idmap, None);
        assert_eq!(
            propagation("rslave"),
            Some(MsFlags::MS_SLAVE | MsFlags::MS_REC)
        );
        assert_eq!(propagation("bogus"), None);
        for k in KNOWN {
            assert!(
                parse(&[k.to_string()]).unwrap().data.is_empty(),
                "{k} fell through to data"
            );
        }
        assert_eq!(
            parse(&["ro".into(), "mode=7\u{0}55".into()]).unwrap_err(),
            "option \"mode=7\\055\" contains a NUL byte"
        );
    }
}
