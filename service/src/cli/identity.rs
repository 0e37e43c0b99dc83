//! `backend identity`: what the kernel says about this process (user, group, privilege flags,
//! capabilities, read-only root), so tests can check the security context really applies to
//! a container that has no shell or `id` to ask.

use std::fs;

/// One line: `uid=1001 gid=1001 no_new_privs=1 cap_eff=0000000000000000 root_fs_read_only=true`.
pub fn describe() -> Result<String, String> {
    let status =
        fs::read_to_string("/proc/self/status").map_err(|e| format!("/proc/self/status: {e}"))?;
    let mountinfo = fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("/proc/self/mountinfo: {e}"))?;
    Ok(format_identity(&status, &mountinfo))
}

fn format_identity(status: &str, mountinfo: &str) -> String {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .map(|rest| rest.split_whitespace().next().unwrap_or("").to_owned())
            .unwrap_or_else(|| "?".to_owned())
    };
    format!(
        "uid={} gid={} no_new_privs={} cap_eff={} root_fs_read_only={}",
        field("Uid:"),
        field("Gid:"),
        field("NoNewPrivs:"),
        field("CapEff:"),
        root_is_read_only(mountinfo)
    )
}

/// mountinfo fields: id, parent, major:minor, root, mount point, options, ...
fn root_is_read_only(mountinfo: &str) -> bool {
    mountinfo
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .rfind(|fields| fields.len() > 5 && fields[4] == "/")
        .is_some_and(|fields| fields[5].split(',').any(|option| option == "ro"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tbackend\nUid:\t1001\t1001\t1001\t1001\nGid:\t1001\t1001\t1001\t1001\nCapEff:\t0000000000000000\nNoNewPrivs:\t1\n";

    #[test]
    fn reports_effective_ids_flags_and_read_only_root() {
        let mountinfo = "100 90 0:50 / / ro,relatime - overlay overlay rw\n101 100 0:51 / /tmp rw - tmpfs tmpfs rw\n";
        assert_eq!(
            format_identity(STATUS, mountinfo),
            "uid=1001 gid=1001 no_new_privs=1 cap_eff=0000000000000000 root_fs_read_only=true"
        );
    }

    #[test]
    fn a_writable_root_is_reported() {
        let mountinfo = "100 90 0:50 / / rw,relatime - overlay overlay rw\n";
        assert!(format_identity(STATUS, mountinfo).ends_with("root_fs_read_only=false"));
    }
}
