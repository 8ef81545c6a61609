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

mod common;

use serde_yaml_ng::Value as Yaml;
use std::collections::BTreeSet;
use std::path::Path;

fn yaml_docs(path: &str) -> Vec<Yaml> {
    use serde::Deserialize;
    let text = std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| {
            let mut v = Yaml::deserialize(d).unwrap_or_else(|e| panic!("{path}: {e}"));
            v.apply_merge().unwrap_or_else(|e| panic!("{path}: {e}"));
            v
        })
        .filter(|v| !v.is_null())
        .collect()
}

fn yaml(path: &str) -> Yaml {
    let mut docs = yaml_docs(path);
    assert_eq!(docs.len(), 1, "{path}: one document");
    docs.remove(0)
}

fn s(v: &Yaml) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v:?}"))
}

/// Runs `synap-server --check-config` on a configuration file with an environment.
fn check_config(file: &Path, env: &[(&str, &str)]) {
    let out = Command::new(env!("CARGO_BIN_EXE_synap-server"))
        .arg("--config")
        .arg(file)
        .arg("--check-config")
        .env_remove("SYNAP_ROLE")
        .env_remove("SYNAP_MASTER")
        .envs(env.iter().copied())
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The HTTP port a Synap configuration file sets.
fn http_port_of(config: &Path) -> u64 {
    let v: Yaml = serde_yaml_ng::from_str(&std::fs::read_to_string(config).unwrap()).unwrap();
    v["server"]["http_port"].as_u64().unwrap_or(15500)
}

#[test]
fn systemd_unit_reloads_on_sighup_and_the_guide_covers_limits() {
    let unit = std::fs::read_to_string(repo("systemd/synap.service")).unwrap();
    assert!(unit.contains("ExecReload=/bin/kill -HUP $MAINPID"));
    let guide = std::fs::read_to_string(repo("systemd/README.md")).unwrap();
    for needle in [
        "ulimit -n",
        "LimitNOFILE",
        "net.core.somaxconn",
        "fs.nr_open",
        "tcp_max_syn_backlog",
    ] {
        assert!(guide.contains(needle), "systemd/README.md lacks {needle}");
    }
    let sysctl = std::fs::read_to_string(repo("systemd/99-synap.conf")).unwrap();
    for line in sysctl
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let (key, value) = line.split_once('=').expect("key = value");
        assert!(
            key.trim().contains('.') && !value.trim().is_empty(),
            "{line}"
        );
    }
    let sysusers = std::fs::read_to_string(repo("systemd/synap.sysusers.conf")).unwrap();
    assert!(sysusers.lines().any(|l| l.starts_with("u synap ")));
    let tmpfiles = std::fs::read_to_string(repo("systemd/synap.tmpfiles.conf")).unwrap();
    assert!(tmpfiles
        .lines()
        .any(|l| l.starts_with("d /var/lib/synap 0750 synap synap")));
}

#[test]
fn dockerfile_is_multi_stage_and_copies_what_exists() {
    let text = std::fs::read_to_string(repo("Dockerfile")).unwrap();
    let froms: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert!(froms.len() >= 2, "multi-stage: {froms:?}");
    assert!(froms[0].contains(" AS build"), "{froms:?}");
    assert!(
        froms.last().unwrap().contains("debian"),
        "slim runtime: {froms:?}"
    );
    for line in text
        .lines()
        .filter(|l| l.starts_with("COPY ") && !l.contains("--from"))
    {
        let parts: Vec<&str> = line.split_whitespace().collect();
        for src in &parts[1..parts.len() - 1] {
            if *src != "." {
                assert!(
                    Path::new(&repo(src)).exists(),
                    "Dockerfile copies missing {src}"
                );
            }
        }
    }
    let cargo = std::fs::read_to_string(repo("Cargo.toml")).unwrap();
    for bin in ["synap-server", "synap-admin"] {
        assert!(text.contains(&format!("--bin {bin}")), "builds {bin}");
        assert!(
            cargo.contains(&format!("name = \"{bin}\"")),
            "Cargo.toml has {bin}"
        );
    }
    for port in ["6379", "15500", "15501"] {
        assert!(
            text.lines()
                .any(|l| l.starts_with("EXPOSE") && l.contains(port)),
            "EXPOSE {port}"
        );
    }
    assert!(text.contains("USER 999:999") && text.contains("HEALTHCHECK"));
    let ignore = std::fs::read_to_string(repo(".dockerignore")).unwrap();
    assert!(ignore.lines().any(|l| l.trim() == "target/"));
}

#[test]
fn compose_runs_a_master_and_two_replicas_on_valid_configs() {
    let compose = yaml("docker-compose.yml");
    let services = compose["services"].as_mapping().expect("services");
    for name in ["master", "replica1", "replica2"] {
        let svc = &compose["services"][name];
        assert_eq!(s(&svc["build"]), ".", "{name} builds the Dockerfile");
        let mut env: Vec<(String, String)> = Vec::new();
        if let Some(m) = svc["environment"].as_mapping() {
            for (k, v) in m {
                env.push((s(k).to_string(), s(v).to_string()));
            }
        }
        let mut config = None;
        for v in svc["volumes"].as_sequence().expect("volumes") {
            let v = s(v);
            if let Some(local) = v.strip_prefix("./") {
                let local = local.split(':').next().unwrap();
                assert!(
                    Path::new(&repo(local)).is_file(),
                    "{name} mounts missing {local}"
                );
                if v.contains(":/etc/synap/config.yml") {
                    config = Some(repo(local));
                }
            }
        }
        let config = config.unwrap_or_else(|| panic!("{name} mounts no config"));
        let env_refs: Vec<(&str, &str)> =
            env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        check_config(Path::new(&config), &env_refs);
        // The health check and the published ports use the ports of that config.
        let http = http_port_of(Path::new(&config));
        let test: Vec<&str> = svc["healthcheck"]["test"]
            .as_sequence()
            .expect("healthcheck")
            .iter()
            .map(s)
            .collect();
        assert!(
            test.join(" ").contains(&format!(":{http}/health")),
            "{name}: {test:?}"
        );
        let ports: Vec<&str> = svc["ports"].as_sequence().unwrap().iter().map(s).collect();
        assert!(
            ports.iter().any(|p| p.ends_with(&format!(":{http}"))),
            "{name}: {ports:?}"
        );
        assert!(svc["security_opt"]
            .as_sequence()
            .is_some_and(|o| o.iter().any(|x| s(x) == "seccomp=unconfined")));
        if name != "master" {
            assert!(
                env.contains(&("SYNAP_MASTER".into(), "master:15501".into())),
                "{name}"
            );
        }
    }
    for (name, svc) in services {
        for v in svc["volumes"].as_sequence().into_iter().flatten() {
            if let Some(local) = s(v).strip_prefix("./") {
                let local = local.split(':').next().unwrap();
                assert!(
                    Path::new(&repo(local)).exists(),
                    "{name:?} mounts missing {local}"
                );
            }
        }
    }
}

#[test]
fn kubernetes_manifests_parse_and_fit_together() {
    let mut docs = Vec::new();
    for f in [
        "namespace.yml",
        "configmap.yml",
        "master-deployment.yml",
        "master-service.yml",
        "replica-deployment.yml",
        "replica-service.yml",
    ] {
        for d in yaml_docs(&format!("k8s/{f}")) {
            assert!(
                d["apiVersion"].is_string() && d["kind"].is_string(),
                "k8s/{f}"
            );
            assert!(d["metadata"]["name"].is_string(), "k8s/{f}");
            if s(&d["kind"]) != "Namespace" {
                assert_eq!(s(&d["metadata"]["namespace"]), "synap", "k8s/{f}");
            }
            docs.push(d);
        }
    }
    let of_kind = |k: &'static str| docs.iter().filter(move |d| s(&d["kind"]) == k);
    let cm = of_kind("ConfigMap").next().expect("configmap");
    let dir = tempfile::tempdir().unwrap();
    for (key, config) in cm["data"].as_mapping().unwrap() {
        let path = dir.path().join(s(key));
        std::fs::write(&path, s(config)).unwrap();
        check_config(&path, &[]);
    }
    let deployments: Vec<&Yaml> = of_kind("Deployment").collect();
    assert_eq!(deployments.len(), 2);
    for d in &deployments {
        let spec = &d["spec"]["template"]["spec"];
        let c = &spec["containers"][0];
        let ports: BTreeSet<&str> = c["ports"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|p| s(&p["name"]))
            .collect();
        assert_eq!(s(&c["livenessProbe"]["httpGet"]["path"]), "/health");
        assert!(ports.contains(s(&c["livenessProbe"]["httpGet"]["port"])));
        for v in spec["volumes"].as_sequence().unwrap() {
            if let Some(items) = v["configMap"]["items"].as_sequence() {
                for i in items {
                    assert!(
                        cm["data"][s(&i["key"])].is_string(),
                        "configmap lacks {:?}",
                        i["key"]
                    );
                }
            }
            if let Some(claim) = v["persistentVolumeClaim"]["claimName"].as_str() {
                assert!(
                    of_kind("PersistentVolumeClaim").any(|p| s(&p["metadata"]["name"]) == claim)
                );
            }
        }
        assert_eq!(
            d["spec"]["selector"]["matchLabels"],
            d["spec"]["template"]["metadata"]["labels"]
        );
        // Every service port's target exists on the pods it selects.
        for svc in of_kind("Service") {
            let sel = svc["spec"]["selector"].as_mapping().unwrap();
            let labels = d["spec"]["template"]["metadata"]["labels"]
                .as_mapping()
                .unwrap();
            if sel.iter().all(|(k, v)| labels.get(k) == Some(v)) {
                for p in svc["spec"]["ports"].as_sequence().unwrap() {
                    assert!(ports.contains(s(&p["targetPort"])), "{:?}", p["targetPort"]);
                }
            }
        }
    }
    for svc in of_kind("Service") {
        let sel = svc["spec"]["selector"].as_mapping().unwrap();
        assert!(
            deployments.iter().any(|d| {
                let labels = d["spec"]["template"]["metadata"]["labels"]
                    .as_mapping()
                    .unwrap();
                sel.iter().all(|(k, v)| labels.get(k) == Some(v))
            }),
            "service {:?} selects no pods",
            svc["metadata"]["name"]
        );
    }
    assert_eq!(
        deployments
            .iter()
            .find(|d| s(&d["metadata"]["name"]) == "synap-master")
            .unwrap()["spec"]["replicas"]
            .as_u64(),
        Some(1)
    );
}

/// Metric names a running server exports.
fn live_metric_names() -> BTreeSet<String> {
    let srv = common::Server::start(2);
    let mut c = srv.client();
    let _ = common::cmd(&mut c, &["SET", "a", "1"]);
    let _ = common::cmd(&mut c, &["GET", "a"]);
    let mut s = std::net::TcpStream::connect(("127.0.0.1", srv.http_port)).unwrap();
    use std::io::{Read, Write};
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text.lines()
        .filter(|l| l.starts_with("synap_"))
        .map(|l| l.split(['{', ' ']).next().unwrap().to_string())
        .collect()
}

/// `synap_…` identifiers in a PromQL expression.
fn metrics_in(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(i) = rest.find("synap_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        out.push(tail[..end].to_string());
        rest = &tail[end..];
    }
    out
}

#[test]
fn prometheus_alerts_and_grafana_use_metrics_the_server_exports() {
    let names = live_metric_names();
    let prom = yaml("deploy/prometheus/prometheus.yml");
    for f in prom["rule_files"].as_sequence().unwrap() {
        assert!(Path::new(&repo(&format!("deploy/prometheus/{}", s(f)))).is_file());
    }
    let job = &prom["scrape_configs"][0];
    assert_eq!(s(&job["metrics_path"]), "/metrics");
    let alerts = yaml("deploy/prometheus/alerts.yml");
    let mut exprs = Vec::new();
    for g in alerts["groups"].as_sequence().unwrap() {
        for r in g["rules"].as_sequence().unwrap() {
            assert!(r["alert"].is_string() && r["annotations"]["summary"].is_string());
            exprs.push(s(&r["expr"]).to_string());
        }
    }
    assert!(exprs.len() >= 5);
    let dash: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo("deploy/grafana/synap-dashboard.json")).unwrap(),
    )
    .expect("dashboard JSON");
    let mut per_shard = 0;
    for p in dash["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().unwrap() {
            exprs.push(t["expr"].as_str().unwrap().to_string());
            if t["legendFormat"]
                .as_str()
                .unwrap_or("")
                .contains("{{shard}}")
            {
                per_shard += 1;
            }
        }
    }
    assert!(per_shard >= 8, "per-shard panels: {per_shard}");
    for e in &exprs {
        for m in metrics_in(e) {
            assert!(
                names.contains(&m),
                "{m} (in {e}) is not exported; exported: {names:?}"
            );
        }
    }
    for f in [
        "deploy/grafana/provisioning/datasources/prometheus.yml",
        "deploy/grafana/provisioning/dashboards/synap.yml",
    ] {
        assert!(yaml(f)["apiVersion"].is_number());
    }
}

#[test]
fn haproxy_splits_writes_to_the_master_and_reads_to_replicas() {
    let cfg = std::fs::read_to_string(repo("deploy/haproxy/haproxy.cfg")).unwrap();
    assert!(cfg.contains("frontend synap_write") && cfg.contains("frontend synap_read"));
    if Command::new("haproxy").arg("-v").output().is_err() {
        eprintln!("haproxy is not installed: skipping the live check");
        return;
    }
    let check = Command::new("haproxy")
        .args(["-c", "-f"])
        .arg(repo("deploy/haproxy/haproxy.cfg"))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    // Live: the master only (replication is not there yet); reads fall back to it.
    let srv = common::Server::start(2);
    let (write, read, stats) = (
        common::free_port(),
        common::free_port(),
        common::free_port(),
    );
    let local = cfg
        .replace("bind *:6379", &format!("bind 127.0.0.1:{write}"))
        .replace("bind *:6380", &format!("bind 127.0.0.1:{read}"))
        .replace("bind *:8404", &format!("bind 127.0.0.1:{stats}"))
        .replace(
            "master:6379 check port 15500",
            &format!("127.0.0.1:{} check port {}", srv.port, srv.http_port),
        )
        .replace("replica1:6380 check port 15510", "127.0.0.1:1 check port 1")
        .replace("replica2:6381 check port 15520", "127.0.0.1:1 check port 1")
        .replace("log stdout format raw local0", "")
        // The production maxconn needs a higher `ulimit -n` than a test has.
        .replace("maxconn 100000", "maxconn 1000");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("h.cfg"), local).unwrap();
    let mut proxy = Command::new("haproxy")
        .args(["-db", "-f"])
        .arg(dir.path().join("h.cfg"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let result = std::panic::catch_unwind(|| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            let w = redis::Client::open(format!("redis://127.0.0.1:{write}/")).unwrap();
            let r = redis::Client::open(format!("redis://127.0.0.1:{read}/")).unwrap();
            let done = (|| -> redis::RedisResult<String> {
                let mut w = w.get_connection_with_timeout(std::time::Duration::from_secs(1))?;
                redis::cmd("SET")
                    .arg("via")
                    .arg("haproxy")
                    .query::<()>(&mut w)?;
                let mut r = r.get_connection_with_timeout(std::time::Duration::from_secs(1))?;
                redis::cmd("GET").arg("via").query(&mut r)
            })();
            match done {
                Ok(v) => {
                    assert_eq!(v, "haproxy");
                    break;
                }
                Err(e) if std::time::Instant::now() > deadline => panic!("through haproxy: {e}"),
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(200)),
            }
        }
    });
    let _ = proxy.kill();
    let _ = proxy.wait();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
