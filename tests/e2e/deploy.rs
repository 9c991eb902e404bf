//! The deployment files, read and checked against the binary and the repository: every flag,
//! subcommand and variable they use exists; the Kubernetes objects fit together; the
//! ConfigMap's config is the bundled example's (but for the auth service's address), loads
//! without error and generates an Envoy bootstrap Envoy accepts.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;
use tempfile::TempDir;

use crate::harness::envoy::{assert_no_warnings, validate};
use crate::harness::{assert_cli_accepts, assert_env_known, extauth, root};

#[test]
fn systemd_unit_uses_only_what_exists() {
    let unit = std::fs::read_to_string(root().join("deploy/systemd/extauth.service")).unwrap();
    let value = |key: &str| -> Vec<String> {
        unit.lines()
            .filter_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(String::from)
            .collect()
    };
    let exec = value("ExecStart");
    assert_eq!(exec.len(), 1);
    let words: Vec<String> = exec[0].split_whitespace().map(String::from).collect();
    assert_eq!(words[0], "/usr/local/bin/extauth");
    assert_cli_accepts(&words[1..], "systemd ExecStart");
    let dir = words
        .iter()
        .position(|w| w == "--config-dir")
        .map(|i| &words[i + 1]);
    assert!(
        dir.is_some_and(|d| d.starts_with("/etc/")),
        "config dir under /etc"
    );
    for env in value("Environment") {
        let (name, _) = env.split_once('=').unwrap();
        assert_env_known(name, Some("serve"), "systemd Environment");
    }
}

fn documents(dir: &Path) -> Vec<Value> {
    let mut docs = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for doc in serde_norway::Deserializer::from_str(&text) {
            docs.push(Value::deserialize(doc).unwrap());
        }
    }
    docs
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

#[test]
fn kubernetes_objects_fit_together() {
    let docs = documents(&root().join("deploy/kubernetes"));
    let find = |kind: &str| {
        docs.iter()
            .find(|d| d["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind}"))
    };
    let (deployment, service, config_map) =
        (find("Deployment"), find("Service"), find("ConfigMap"));
    let namespace = &deployment["metadata"]["namespace"];
    for d in [service, config_map] {
        assert_eq!(&d["metadata"]["namespace"], namespace);
    }
    assert_eq!(deployment["spec"]["replicas"], 2);
    let pod = &deployment["spec"]["template"];
    assert_eq!(pod["spec"]["securityContext"]["runAsNonRoot"], true);
    let c = &pod["spec"]["containers"][0];
    let args = strings(&c["args"]);
    assert_cli_accepts(&args, "Deployment args");
    for env in c["env"].as_array().unwrap() {
        assert_env_known(
            env["name"].as_str().unwrap(),
            Some("serve"),
            "Deployment env",
        );
    }
    let port = |name: &Value| {
        c["ports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| &p["name"] == name)
            .map(|p| p["containerPort"].clone())
    };
    for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
        assert_eq!(c[probe]["httpGet"]["path"], path);
        assert_eq!(port(&c[probe]["httpGet"]["port"]), Some(Value::from(9091)));
    }
    // the config dir is the ConfigMap's volume
    let dir = args
        .iter()
        .position(|a| a == "--config-dir")
        .map(|i| args[i + 1].clone());
    let mount = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| Some(m["mountPath"].as_str().unwrap().to_string()) == dir)
        .expect("the config dir is mounted");
    let volume = pod["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .unwrap();
    assert_eq!(volume["configMap"]["name"], config_map["metadata"]["name"]);
    // the Service selects the pods and reaches the check port
    for (k, v) in service["spec"]["selector"].as_object().unwrap() {
        assert_eq!(&pod["metadata"]["labels"][k], v);
    }
    let check = &service["spec"]["ports"][0];
    assert_eq!(check["port"], 8083);
    assert_eq!(port(&check["targetPort"]), Some(Value::from(8083)));
}

/// Blanks every auth service url of an AuthConfig (the one thing that differs per place).
fn without_urls(mut doc: Value) -> Value {
    if let Some(configs) = doc["spec"]["configs"].as_array_mut() {
        for c in configs {
            c["passThroughAuth"]["http"]["url"] = Value::from("");
        }
    }
    doc
}

#[test]
fn config_map_holds_the_example_config() {
    let docs = documents(&root().join("deploy/kubernetes"));
    let config_map = docs.iter().find(|d| d["kind"] == "ConfigMap").unwrap();
    let dir = TempDir::new().unwrap();
    for (file, text) in config_map["data"].as_object().unwrap() {
        let text = text.as_str().unwrap();
        std::fs::write(dir.path().join(file), text).unwrap();
        let example = std::fs::read_to_string(root().join("config").join(file))
            .unwrap_or_else(|_| panic!("config/{file} is missing"));
        let parse = |t: &str| without_urls(serde_norway::from_str::<Value>(t).unwrap());
        assert_eq!(
            parse(text),
            parse(&example),
            "{file} differs from config/{file}"
        );
    }
    let path = dir.path().to_str().unwrap();
    let (ok, _, err) = extauth(&["validate", path]);
    assert!(ok, "{err}");
    let (ok, yaml, err) = extauth(&[
        "envoy-config",
        "--config-dir",
        path,
        "--extauth-address",
        "extauth.extauth.svc.cluster.local:8083",
        "--bootstrap",
    ]);
    assert!(ok && err.is_empty(), "{err}");
    let work = TempDir::new().unwrap();
    let (valid, log) = validate(&yaml, work.path());
    assert!(valid, "{log}");
    assert_no_warnings(&log);
}
