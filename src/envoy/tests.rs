use std::time::Duration;

use serde_json::Value;

use super::*;

const SEED_VS: &str = "
apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {name: http-auth-tutorial, namespace: gloo-system}
spec:
  virtualHost:
    domains: ['foo-http']
    routes:
    - matchers: [{prefix: /}]
      routeAction: {single: {upstream: {name: json-upstream, namespace: gloo-system}}}
      options: {autoHostRewrite: true}
    options:
      extauth: {configRef: {name: http-passthrough-auth, namespace: gloo-system}}
";

const SEED_UPSTREAM: &str = "
apiVersion: gloo.solo.io/v1
kind: Upstream
metadata: {name: json-upstream, namespace: gloo-system}
spec:
  static:
    hosts: [{addr: jsonplaceholder.typicode.com, port: 80}]
";

fn auth_config(name: &str, configs: &str) -> String {
    format!(
        "apiVersion: enterprise.gloo.solo.io/v1\nkind: AuthConfig\nmetadata: {{name: {name}, namespace: gloo-system}}\nspec:\n  configs: {configs}\n"
    )
}

fn seed_auth() -> String {
    auth_config(
        "http-passthrough-auth",
        "[{passThroughAuth: {http: {url: 'http://127.0.0.1:9001/auth', connectionTimeout: 3s, request: {allowedHeaders: [authorization]}}}}]",
    )
}

fn opts() -> Options {
    Options {
        extauth: vec!["127.0.0.1:8083".parse().unwrap()],
        replicas: 1,
        path_prefix: None,
        listen: "127.0.0.1:8080".parse().unwrap(),
        admin: "127.0.0.1:9901".parse().unwrap(),
        max_request_bytes: 4096,
        keep_client_identity_headers: false,
    }
}

fn run(files: &[&str], opts: &Options, bootstrap: bool) -> Result<Generated, GenerateError> {
    let dir = tempfile::tempdir().unwrap();
    for (i, f) in files.iter().enumerate() {
        std::fs::write(dir.path().join(format!("{i}.yaml")), f).unwrap();
    }
    generate_from_dir(dir.path(), opts, bootstrap)
}

fn value(files: &[&str], bootstrap: bool) -> Value {
    let out = run(files, &opts(), bootstrap).expect("generates");
    serde_norway::from_str(&out.yaml).unwrap()
}

fn patterns(v: &Value) -> Vec<&str> {
    v["patterns"]
        .as_array()
        .map(|a| a.iter().map(|p| p["exact"].as_str().unwrap()).collect())
        .unwrap_or_default()
}

fn hcm(boot: &Value) -> &Value {
    &boot["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
}

#[test]
fn filter_lists_are_unions_and_timeout_covers_the_longest_chain() {
    let a = auth_config(
        "a",
        "[{passThroughAuth: {http: {url: 'http://a/auth', connectionTimeout: 3s, request: {allowedHeaders: [Authorization, x-a]}, response: {allowedUpstreamHeaders: [x-user], allowedClientHeadersOnDenied: [x-reason]}}}}, {passThroughAuth: {http: {url: 'http://b/auth', request: {passThroughBody: true}}}}]",
    );
    let b = auth_config(
        "b",
        "[{passThroughAuth: {http: {url: 'http://c/auth', connectionTimeout: 1s, request: {allowedHeaders: [x-b, content-length]}, response: {allowedUpstreamHeadersToOverwrite: [x-role], allowedClientHeadersOnSuccess: [x-ok]}}}}]",
    );
    let vs = "apiVersion: gateway.solo.io/v1\nkind: VirtualService\nmetadata: {name: v, namespace: gloo-system}\nspec: {virtualHost: {domains: [h], routes: [{matchers: [{prefix: /, headers: [{name: X-Tenant, value: t1}]}], routeAction: {single: {upstream: {name: u}}}}]}}";
    let up = "apiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata: {name: u, namespace: gloo-system}\nspec: {static: {hosts: [{addr: 10.0.0.1, port: 80}]}}";
    let mut o = opts();
    o.path_prefix = Some("/ext".into());
    let out = run(&[&a, &b, vs, up], &o, false).unwrap();
    let f: Value = serde_norway::from_str(&out.yaml).unwrap();
    let c = &f["typed_config"];
    assert_eq!(f["name"], "envoy.filters.http.ext_authz");
    assert_eq!(
        patterns(&c["allowed_headers"]),
        ["authorization", "x-a", "x-b", "x-tenant"]
    );
    let resp = &c["http_service"]["authorization_response"];
    assert_eq!(
        patterns(&resp["allowed_upstream_headers_to_append"]),
        ["x-user"]
    );
    assert_eq!(patterns(&resp["allowed_upstream_headers"]), ["x-role"]);
    assert_eq!(patterns(&resp["allowed_client_headers"]), ["x-reason"]);
    assert_eq!(
        patterns(&resp["allowed_client_headers_on_success"]),
        ["x-ok"]
    );
    // 3s + the default 5s, plus the margin
    assert_eq!(c["http_service"]["server_uri"]["timeout"], "8.5s");
    assert_eq!(c["http_service"]["server_uri"]["cluster"], "extauth");
    assert_eq!(c["http_service"]["path_prefix"], "/ext");
    assert_eq!(c["with_request_body"]["max_request_bytes"], 4096);
    assert_eq!(c["failure_mode_allow"], false);
    assert_eq!(c["status_on_error"]["code"], "ServiceUnavailable");
}

#[test]
fn without_auth_configs_the_filter_still_calls_extauth() {
    let open = SEED_VS.replace(
        "options:\n      extauth: {configRef: {name: http-passthrough-auth, namespace: gloo-system}}",
        "options: {}",
    );
    let f = value(&[&open, SEED_UPSTREAM], false);
    let c = &f["typed_config"];
    assert!(c.get("allowed_headers").is_none());
    assert!(c.get("with_request_body").is_none());
    assert_eq!(c["http_service"]["server_uri"]["timeout"], "5.5s");
    assert_eq!(ext_authz::TIMEOUT_MARGIN, Duration::from_millis(500));
}

#[test]
fn seed_bootstrap() {
    let boot = value(&[&seed_auth(), SEED_VS, SEED_UPSTREAM], true);
    assert_eq!(
        boot["admin"]["address"]["socket_address"]["port_value"],
        9901
    );
    let hcm = hcm(&boot);
    for flag in [
        "normalize_path",
        "merge_slashes",
        "strip_any_host_port",
        "strip_trailing_host_dot",
    ] {
        assert_eq!(hcm[flag], true, "{flag}");
    }
    assert_eq!(
        hcm["path_with_escaped_slashes_action"],
        "UNESCAPE_AND_REDIRECT"
    );
    let vh = &hcm["route_config"]["virtual_hosts"][0];
    assert_eq!(vh["domains"], serde_json::json!(["foo-http"]));
    let route = &vh["routes"][0];
    assert_eq!(route["match"]["prefix"], "/");
    assert_eq!(route["route"]["cluster"], "json-upstream_gloo-system");
    assert_eq!(route["route"]["auto_host_rewrite"], true);
    // the route names itself for extauth before ext_authz runs, replacing any client copy
    let set = &route["typed_per_filter_config"]["envoy.filters.http.header_mutation"]["mutations"]
        ["request_mutations"][0]["append"];
    assert_eq!(set["header"]["key"], "x-extauth-route");
    let identity = set["header"]["value"].as_str().unwrap();
    assert!(
        identity.starts_with("gloo-system/http-auth-tutorial/0/0/"),
        "{identity}"
    );
    assert_eq!(set["append_action"], "OVERWRITE_IF_EXISTS_OR_ADD");
    // ... and the upstream never receives it
    assert_eq!(
        hcm["route_config"]["request_headers_to_remove"],
        serde_json::json!(["x-extauth-route"])
    );
    let filters = hcm["http_filters"].as_array().unwrap();
    assert_eq!(filters[0]["name"], "envoy.filters.http.header_mutation");
    assert_eq!(filters[1]["name"], "envoy.filters.http.ext_authz");
    assert_eq!(filters[2]["name"], "envoy.filters.http.router");
    let forwarded = &filters[1]["typed_config"]["allowed_headers"]["patterns"];
    assert!(forwarded
        .as_array()
        .unwrap()
        .contains(&serde_json::json!({"exact": "x-extauth-route"})));
    // the filter alone (for hand-written routes, which set no identity) never forwards it
    let alone = value(&[&seed_auth(), SEED_VS, SEED_UPSTREAM], false);
    assert!(!alone.to_string().contains("x-extauth-route"));
    let clusters = boot["static_resources"]["clusters"].as_array().unwrap();
    assert_eq!(clusters[0]["name"], "extauth");
    assert_eq!(clusters[0]["type"], "STATIC");
    assert_eq!(clusters[1]["name"], "json-upstream_gloo-system");
    assert_eq!(clusters[1]["type"], "STRICT_DNS");
    let ep = &clusters[1]["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"];
    assert_eq!(ep["hostname"], "jsonplaceholder.typicode.com");
}

#[test]
fn extauth_only_changes_leave_the_bootstrap_unchanged() {
    let base = run(&[&seed_auth(), SEED_VS, SEED_UPSTREAM], &opts(), true)
        .unwrap()
        .yaml;
    let no_auth = SEED_VS.replace(
        "options:\n      extauth: {configRef: {name: http-passthrough-auth, namespace: gloo-system}}",
        "options: {}",
    );
    let disabled = SEED_VS.replace(
        "options: {autoHostRewrite: true}",
        "options: {autoHostRewrite: true, extauth: {disable: true}}",
    );
    let other_url = seed_auth().replace("127.0.0.1:9001", "auth.example:9001");
    for files in [
        [seed_auth().as_str(), no_auth.as_str(), SEED_UPSTREAM],
        [seed_auth().as_str(), disabled.as_str(), SEED_UPSTREAM],
        [other_url.as_str(), SEED_VS, SEED_UPSTREAM],
    ] {
        assert_eq!(run(&files, &opts(), true).unwrap().yaml, base);
    }
}

#[test]
fn matchers_mean_what_extauth_matches() {
    let m: crate::config::types::Matcher = serde_norway::from_str(
        "{regex: '/u/[0-9]+', caseSensitive: false, methods: [get, POST], headers: [{name: X-A}, {name: x-b, value: '1'}, {name: x-c, value: 'v.*', regex: true, invertMatch: true}], queryParameters: [{name: q}, {name: r, value: '2'}]}",
    )
    .unwrap();
    let v = serde_json::to_value(routes::route_match(&m)).unwrap();
    // caseSensitive does not apply to regexes, in Envoy as in extauth
    assert_eq!(v["safe_regex"]["regex"], "/u/[0-9]+");
    assert!(v.get("case_sensitive").is_none());
    let h = &v["headers"];
    assert_eq!(h[0]["name"], ":method");
    assert_eq!(h[0]["string_match"]["safe_regex"]["regex"], "GET|POST");
    assert_eq!(h[1]["name"], "x-a");
    assert_eq!(h[1]["present_match"], true);
    assert_eq!(h[2]["string_match"]["exact"], "1");
    assert_eq!(h[3]["string_match"]["safe_regex"]["regex"], "v.*");
    assert_eq!(h[3]["invert_match"], true);
    assert_eq!(v["query_parameters"][0]["present_match"], true);
    assert_eq!(v["query_parameters"][1]["string_match"]["exact"], "2");
    let exact: crate::config::types::Matcher =
        serde_norway::from_str("{exact: /A, caseSensitive: false}").unwrap();
    let v = serde_json::to_value(routes::route_match(&exact)).unwrap();
    assert_eq!(v["path"], "/A");
    assert_eq!(v["case_sensitive"], false);
}

#[test]
fn unsupported_resources_are_errors_and_ignored_fields_warnings() {
    let missing = SEED_VS.replace("name: json-upstream", "name: nope");
    let auth = seed_auth();
    match run(&[&auth, &missing, SEED_UPSTREAM], &opts(), true) {
        Err(GenerateError::Unsupported(e)) => assert!(e[0].contains("gloo-system/nope"), "{e:?}"),
        other => panic!("{other:?}"),
    }
    let kube = "apiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata: {name: json-upstream, namespace: gloo-system}\nspec: {kube: {serviceName: s}}";
    assert!(matches!(
        run(&[&auth, SEED_VS, kube], &opts(), true),
        Err(GenerateError::Unsupported(_))
    ));
    let cors = SEED_VS.replace(
        "{autoHostRewrite: true}",
        "{autoHostRewrite: true, cors: {}}",
    );
    let out = run(&[&auth, &cors, SEED_UPSTREAM], &opts(), true).unwrap();
    assert!(out.warnings.iter().any(|w| w.contains("options.cors")));
    // the filter alone does not need routes to be expressible
    assert!(run(&[&auth, &missing, SEED_UPSTREAM], &opts(), false).is_ok());
    let broken = seed_auth().replace("connectionTimeout: 3s", "connectionTimeout: soon");
    assert!(matches!(
        run(&[&broken], &opts(), false),
        Err(GenerateError::Config(_))
    ));
}

#[test]
fn tls_upstreams_and_several_replicas() {
    let up = "apiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata: {name: json-upstream, namespace: gloo-system}\nspec: {static: {hosts: [{addr: api.example, port: 443}]}}";
    let mut o = opts();
    o.extauth = vec![
        "extauth-a:8083".parse().unwrap(),
        "[::1]:8083".parse().unwrap(),
    ];
    o.replicas = 2;
    let out = run(&[&seed_auth(), SEED_VS, up], &o, true).unwrap();
    let boot: Value = serde_norway::from_str(&out.yaml).unwrap();
    let clusters = &boot["static_resources"]["clusters"];
    assert_eq!(clusters[0]["type"], "STRICT_DNS");
    let eps = &clusters[0]["load_assignment"]["endpoints"][0]["lb_endpoints"];
    assert_eq!(
        eps[1]["endpoint"]["address"]["socket_address"]["address"],
        "::1"
    );
    assert_eq!(
        clusters[1]["transport_socket"]["typed_config"]["sni"],
        "api.example"
    );
    // losing replicas under load must not exhaust Envoy's default of 3 outstanding retries
    assert_eq!(
        clusters[0]["circuit_breakers"]["thresholds"][0]["max_retries"],
        1024
    );
    assert_eq!(clusters[0]["outlier_detection"]["max_ejection_percent"], 50);
}

#[test]
fn host_port_parsing() {
    let hp: HostPort = "extauth.ns.svc:8083".parse().unwrap();
    assert_eq!((hp.host.as_str(), hp.port), ("extauth.ns.svc", 8083));
    assert_eq!(hp.to_string(), "extauth.ns.svc:8083");
    for bad in ["extauth", ":8083", "h:0", "h:x", "::1:80"] {
        assert!(bad.parse::<HostPort>().is_err(), "{bad}");
    }
}

#[test]
fn names_envoy_would_reject_are_caught() {
    let a = "apiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata: {name: a_b, namespace: c}\nspec: {static: {hosts: [{addr: 10.0.0.1, port: 80}]}}";
    let b = "apiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata: {name: a, namespace: b_c}\nspec: {static: {hosts: [{addr: 10.0.0.2, port: 80}]}}";
    match run(&[a, b], &opts(), true) {
        Err(GenerateError::Unsupported(e)) => assert!(e[0].contains("a_b_c"), "{e:?}"),
        other => panic!("{other:?}"),
    }
    let twice = SEED_VS.replace("domains: ['foo-http']", "domains: ['foo-http', 'FOO-http']");
    let boot = value(&[&seed_auth(), &twice, SEED_UPSTREAM], true);
    let vh = &hcm(&boot)["route_config"]["virtual_hosts"][0];
    assert_eq!(vh["domains"], serde_json::json!(["foo-http"]));
}

#[test]
fn checks_are_retried_only_onto_another_replica_and_never_with_one() {
    let policy = |replicas: usize, addresses: usize| {
        let mut o = opts();
        o.extauth = (0..addresses)
            .map(|i| format!("10.0.0.{i}:8083").parse().unwrap())
            .collect();
        o.replicas = replicas;
        let out = run(&[&seed_auth(), SEED_VS, SEED_UPSTREAM], &o, true).unwrap();
        let boot: Value = serde_norway::from_str(&out.yaml).unwrap();
        let filter = &hcm(&boot)["http_filters"][1]["typed_config"];
        filter["http_service"].get("retry_policy").cloned()
    };
    // one replica: no other to try, so nothing is retried (and nothing waits for a back-off)
    assert_eq!(policy(1, 1), None);
    // three replicas: at most two retries, each onto a replica not tried yet, milliseconds apart
    let p = policy(3, 3).expect("a retry policy");
    assert_eq!(p["num_retries"], 2);
    assert_eq!(p["retry_on"], "connect-failure,reset");
    assert_eq!(p["retry_back_off"]["base_interval"], "0.005s");
    assert_eq!(p["retry_back_off"]["max_interval"], "0.05s");
    assert_eq!(
        p["retry_host_predicate"][0]["name"],
        "envoy.retry_host_predicates.previous_hosts"
    );
    assert_eq!(p["host_selection_retry_max_attempts"], 10);
    // one DNS name standing for five replicas; many replicas retry at most three times
    assert_eq!(policy(5, 1).unwrap()["num_retries"], 3);
    assert_eq!(policy(2, 2).unwrap()["num_retries"], 1);
}
