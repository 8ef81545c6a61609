//! The deployment files: the systemd unit has what production needs and passes
//! `systemd-analyze verify` (where installed); the configs it points at are valid.

use std::process::Command;

fn repo(path: &str) -> String {
    format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn systemd_unit_is_production_ready() {
    let unit = std::fs::read_to_string(repo("systemd/synap.service")).expect("unit");
    for needle in [
        "Type=notify",
        "LimitNOFILE=1000000",
        "LimitMEMLOCK=infinity",
        "User=synap",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/synap",
        "ExecStart=/usr/local/bin/synap-server --config /etc/synap/config.yml",
    ] {
        assert!(unit.contains(needle), "synap.service lacks {needle}");
    }
    for f in [
        "synap.sysusers.conf",
        "synap.tmpfiles.conf",
        "99-synap.conf",
        "README.md",
    ] {
        assert!(
            std::path::Path::new(&repo(&format!("systemd/{f}"))).exists(),
            "missing systemd/{f}"
        );
    }
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("systemd-analyze is not installed: skipping `systemd-analyze verify`");
        return;
    }
    // Verify the unit with ExecStart pointing at the binary under test (the installed path does
    // not exist here).
    let dir = tempfile::tempdir().expect("tmp");
    let test_unit = dir.path().join("synap.service");
    let text = unit.replace(
        "/usr/local/bin/synap-server",
        env!("CARGO_BIN_EXE_synap-server"),
    );
    std::fs::write(&test_unit, text).expect("write");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&test_unit)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    let problems: Vec<&str> = err
        .lines()
        // Missing users and paths of the target host are not errors of the unit.
        .filter(|l| !l.contains("/etc/synap/config.yml") && !l.trim().is_empty())
        .collect();
    assert!(
        out.status.success() && problems.is_empty(),
        "systemd-analyze verify: {err}"
    );
}

#[test]
fn example_configs_are_valid_yaml_with_the_documented_keys() {
    for (f, port) in [
        ("config-standalone.yml", 6379),
        ("config-master.yml", 6379),
        ("config-replica-1.yml", 6380),
        ("config-replica-2.yml", 6381),
    ] {
        let text = std::fs::read_to_string(repo(&format!("config/{f}"))).expect("read");
        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("yaml");
        assert_eq!(v["server"]["port"].as_u64(), Some(port), "{f}");
        assert!(v["server"]["role"].as_str().is_some(), "{f}");
        assert!(v["replication"].is_mapping(), "{f}");
    }
}
