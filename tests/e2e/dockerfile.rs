//! The Dockerfile cannot be built here (no Docker engine), so it is read instead: every path it
//! copies exists in the repository and is not excluded from the build context, every extauth
//! flag, subcommand and variable it uses exists in the binary, and its health check command
//! works against a running extauth.

use std::process::Command;

use tempfile::TempDir;

use crate::harness::{
    assert_cli_accepts, assert_env_known, extauth_bin, extauth_serve, free_port, root,
};

/// One instruction: keyword (upper case) and its arguments as written.
struct Instruction {
    keyword: String,
    args: String,
}

fn parse(text: &str) -> Vec<Instruction> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                let (keyword, args) = current.split_once(' ').unwrap_or((&current, ""));
                out.push(Instruction {
                    keyword: keyword.to_ascii_uppercase(),
                    args: args.trim().to_string(),
                });
                current.clear();
            }
        }
    }
    out
}

/// An exec-form JSON array (`["a", "b"]`).
fn exec_form(args: &str, what: &str) -> Vec<String> {
    serde_json::from_str(args).unwrap_or_else(|e| panic!("{what} is not in exec form ({e})"))
}

fn env_pairs(args: &str) -> Vec<(String, String)> {
    args.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn dockerfile_uses_only_what_exists() {
    let text = std::fs::read_to_string(root().join("Dockerfile")).expect("Dockerfile");
    let ignore = std::fs::read_to_string(root().join(".dockerignore")).expect(".dockerignore");
    let ignored: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let all = parse(&text);
    let stages: Vec<usize> = (0..all.len())
        .filter(|i| all[*i].keyword == "FROM")
        .collect();
    assert!(stages.len() >= 2, "a multi-stage build");
    assert!(all[stages[0]].args.ends_with(" AS build"));
    let runtime = &all[*stages.last().unwrap()..];
    let build = &all[stages[0]..stages[1]];

    // COPY sources exist and are in the build context; the binary comes from the build stage
    let mut binary = None;
    for i in all.iter().filter(|i| i.keyword == "COPY") {
        let words: Vec<&str> = i.args.split_whitespace().collect();
        let (flags, paths): (Vec<&str>, Vec<&str>) =
            words.iter().partition(|w| w.starts_with("--"));
        let (dest, sources) = paths.split_last().expect("COPY needs a destination");
        if flags.contains(&"--from=build") {
            assert_eq!(sources, ["/extauth"]);
            assert!(
                build
                    .iter()
                    .any(|b| b.keyword == "RUN"
                        && b.args.contains("cp target/release/extauth /extauth")),
                "the build stage must produce /extauth"
            );
            binary = Some(dest.to_string());
            continue;
        }
        for src in sources {
            assert!(
                root().join(src).exists(),
                "COPY source {src} does not exist"
            );
            let first = src.trim_end_matches('/').split('/').next().unwrap();
            assert!(
                !ignored.contains(&first),
                "COPY source {src} is excluded by .dockerignore"
            );
        }
    }
    let binary = binary.expect("the runtime stage copies the binary from the build stage");

    // the runtime stage: variables, volume, ports, user
    let get = |kw: &'static str| runtime.iter().filter(move |i| i.keyword == kw);
    let env: Vec<(String, String)> = get("ENV").flat_map(|i| env_pairs(&i.args)).collect();
    for (k, _) in &env {
        assert_env_known(k, Some("serve"), "Dockerfile ENV");
    }
    let env_of = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let config_dir = env_of("EXTAUTH_CONFIG_DIR").expect("EXTAUTH_CONFIG_DIR is set");
    let volumes: Vec<String> = get("VOLUME")
        .flat_map(|i| exec_form(&i.args, "VOLUME"))
        .collect();
    assert!(volumes.contains(&config_dir), "the config dir is a volume");
    let exposed: Vec<String> = get("EXPOSE")
        .flat_map(|i| {
            i.args
                .split_whitespace()
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect();
    for port in ["8083", "9091"] {
        assert!(exposed.iter().any(|p| p == port), "port {port} is exposed");
    }
    assert!(env_of("EXTAUTH_LISTEN").unwrap().ends_with(":8083"));
    assert!(env_of("EXTAUTH_ADMIN_LISTEN").unwrap().ends_with(":9091"));
    let user = get("USER").next_back().expect("a USER").args.clone();
    assert!(
        !["root", "0", "0:0"].contains(&user.as_str()),
        "runs as non-root"
    );

    // the command lines: ENTRYPOINT + CMD, and the health check
    let entry = exec_form(&get("ENTRYPOINT").next_back().unwrap().args, "ENTRYPOINT");
    assert_eq!(entry, std::slice::from_ref(&binary));
    let cmd = exec_form(&get("CMD").next_back().unwrap().args, "CMD");
    assert_cli_accepts(&cmd, "Dockerfile CMD");
    let flag_value = |args: &[String], flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .map(|i| args[i + 1].clone())
    };
    assert_eq!(flag_value(&cmd, "--config-dir"), Some(config_dir.clone()));
    let health = get("HEALTHCHECK")
        .next_back()
        .expect("a HEALTHCHECK")
        .args
        .clone();
    let health = exec_form(
        health.split_once("CMD ").expect("HEALTHCHECK CMD").1,
        "HEALTHCHECK CMD",
    );
    assert_eq!(health[0], binary);
    assert_cli_accepts(&health[1..], "Dockerfile HEALTHCHECK");

    // and the health check really answers: 0 against a ready extauth, 1 without one
    let work = TempDir::new().unwrap();
    let (_extauth, _check, admin) = extauth_serve(&root().join("config"), work.path());
    let run = |admin: u16| {
        Command::new(extauth_bin())
            .args(&health[1..])
            .env("EXTAUTH_ADMIN_LISTEN", format!("0.0.0.0:{admin}"))
            .status()
            .unwrap()
            .code()
    };
    assert_eq!(run(admin), Some(0));
    assert_eq!(run(free_port()), Some(1));
}
