#!/usr/bin/env python3
"""The extauth benchmark harness (started by bench/run, which builds and installs first).

Scenarios, each against the same auth service on 127.0.0.1:
  a  load -> auth service (the floor)
  b  load -> extauth -> auth service
  c  load -> nginx (proxy_pass, upstream keepalive, authorization copied, POST, no body) -> auth
  d  load -> Envoy (ext_authz calls the auth service itself) -> upstream stand-in
  e  load -> Envoy (ext_authz calls extauth -> auth service) -> upstream stand-in
  f  as b, with extauth --workers 2: all load on one AuthConfig (does it use every core?)
  g  as b, the auth service over TLS: an https url (caFile), TLS 1.3, keep-alive
  h  as c, the auth service over TLS: nginx proxy_pass https (verified, session reuse, keepalive)
     (g and h share their own auth service: nginx `return 200` on a TLS listener, 1 worker)
  i  as b, the step's decision cache on (`cache: {maxAge: 300s}`), warm: the load cycles through
     1,000 distinct tokens, each already decided once
  j  as c, with nginx's proxy_cache keyed on the token (the cache a user would build instead),
     warm, the same 1,000 tokens
     (i and j: saturation only; their throughput and CPU per check are set against b and c)
Reference prototypes (bench/hop, not the product), saturation only, to show what the server
framework and the HTTP client cost by themselves:
  r0 load -> actix-web answering 200 itself;  r1 load -> actix-web + awc -> auth service;
  r2 load -> actix-web + hyper 1 (hyper-util legacy pool) -> auth service

Saturation: wrk, fixed connections, throughput and CPU of the middle process per request
(user and system time apart).
Latency: oha at a fixed rate well below the slowest saturation (coordinated-omission corrected).
Rounds are interleaved (a b c d e f g h r0 r1 r2, a b c ...) and medians reported. Then the scale part:
start-up time and memory with 1 / 1,000 / 10,000 AuthConfigs, and the time from rewriting one
file among them to the new behaviour being served.
"""
from __future__ import annotations

import argparse
import csv
import datetime
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
HOST = "foo-http"
AUTHZ = "authorize me"
CHECK_PATH = "/posts/1"
AUTH_PATH = "/auth"

EXTAUTH = os.environ.get("EXTAUTH", str(ROOT / "target/release/extauth"))
SAMPLE_AUTH = os.environ.get("SAMPLE_AUTH", str(ROOT / "target/release/examples/http-passthrough-auth"))
ENVOY = os.environ.get("ENVOY", str(ROOT / ".venv-envoy/bin/envoy"))
OHA = os.environ.get("OHA", shutil.which("oha") or str(BENCH / ".tools/bin/oha"))
WRK = shutil.which("wrk") or "wrk"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
HOP = os.environ.get("HOP", str(BENCH / "hop/target/release/hop"))

SCENARIOS = {
    "a": "load → auth service (the floor)",
    "b": "load → extauth → auth service",
    "c": "load → nginx → auth service",
    "d": "load → Envoy (ext_authz → auth service) → stand-in",
    "e": "load → Envoy (ext_authz → extauth → auth service) → stand-in",
    "f": "as b, extauth --workers 2 (one hot AuthConfig)",
    "g": "load → extauth → auth service over TLS",
    "h": "load → nginx → auth service over TLS",
    "i": "load (1,000 tokens) → extauth, decision cache warm → auth service",
    "j": "load (1,000 tokens) → nginx, proxy_cache warm → auth service",
}
MAIN = ["a", "b", "c", "d", "e"]
# the https auth service scenarios: extauth and nginx forwarding to a TLS auth service
TLS = ["g", "h"]
# the decision cache scenarios: a warm cache of TOKENS distinct tokens, saturation only
CACHED = ["i", "j"]
TOKENS = 1000
# reference prototypes (bench/hop): `hop --mode` of each; saturation only, but r1 also at the
# latency phase's fixed rate
REFERENCE = {
    "r0": ("none", "load → actix-web answering 200 itself (no upstream call)"),
    "r1": ("awc", "load → actix-web + awc (plain forwarding) → auth service"),
    "r2": ("hyper", "load → actix-web + hyper 1 (hyper-util legacy pool) → auth service"),
}
SCENARIOS.update({k: label for k, (_, label) in REFERENCE.items()})


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---------------------------------------------------------------- processes we start, and only those

PROCS: list[subprocess.Popen] = []


def spawn(args: list[str], logfile: Path, env: dict | None = None) -> subprocess.Popen:
    """Starts a server in its own process group (so nginx's workers go with their master)."""
    out = open(logfile, "ab")
    p = subprocess.Popen(
        [str(a) for a in args],
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )
    out.close()
    PROCS.append(p)
    return p


def stop(p: subprocess.Popen, timeout: float = 5.0) -> None:
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
    if p in PROCS:
        PROCS.remove(p)


def stop_all() -> None:
    for p in reversed(list(PROCS)):
        stop(p)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port: int, path: str, host: str = HOST, authz: str | None = AUTHZ, timeout: float = 2.0) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Host": host}
        if authz is not None:
            headers["authorization"] = authz
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        r.read()
        return r.status
    finally:
        conn.close()


def wait_status(port: int, path: str, want: int = 200, timeout: float = 20.0, **kw) -> float:
    """Polls until GET answers `want`; returns the seconds it took."""
    t0 = time.monotonic()
    last: object = None
    while time.monotonic() - t0 < timeout:
        try:
            last = http_get(port, path, **kw)
            if last == want:
                return time.monotonic() - t0
        except OSError as e:
            last = e
        time.sleep(0.01)
    raise RuntimeError(f"127.0.0.1:{port}{path}: no {want} within {timeout}s (last: {last})")


# ---------------------------------------------------------------- /proc

def proc_stat(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rfind(")") + 2:].split()


def cpu_split(pid: int) -> tuple[float, float]:
    """(utime, stime) of the whole process (all its threads, live and ended): fields 14 and 15
    of /proc/PID/stat."""
    f = proc_stat(pid)
    return int(f[11]) / CLK_TCK, int(f[12]) / CLK_TCK


def thread_cpu(pid: int) -> dict[int, float]:
    """utime + stime of each thread (/proc/PID/task/TID/stat; /proc/TID/stat is the process's)."""
    out = {}
    for t in Path(f"/proc/{pid}/task").iterdir():
        try:
            text = (t / "stat").read_text()
            f = text[text.rfind(")") + 2:].split()
            out[int(t.name)] = (int(f[11]) + int(f[12])) / CLK_TCK
        except (FileNotFoundError, ProcessLookupError):
            pass
    return out


def children(pid: int) -> list[int]:
    kids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int(proc_stat(int(d.name))[1]) == pid:
                    kids.append(int(d.name))
            except (FileNotFoundError, ProcessLookupError, IndexError):
                pass
    return kids


def status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


@dataclass
class Middle:
    """A process whose CPU and memory we account: extauth, nginx (master + workers), Envoy."""

    name: str
    proc: subprocess.Popen
    group: bool = False  # nginx: count the workers too

    def pids(self) -> list[int]:
        return [self.proc.pid] + (children(self.proc.pid) if self.group else [])

    def cpu(self) -> float:
        return sum(self.cpu_split())

    def cpu_split(self) -> tuple[float, float]:
        """(user, system) CPU seconds, summed over the processes."""
        splits = [cpu_split(p) for p in self.pids()]
        return sum(u for u, _ in splits), sum(s for _, s in splits)

    def peak_rss_kb(self) -> int:
        # nginx: the worker's (the master is idle and shares its pages)
        pids = children(self.proc.pid) if self.group else [self.proc.pid]
        return max(status_kb(p, "VmHWM") for p in pids)


# ---------------------------------------------------------------- servers

NGINX_MAIN = """worker_processes {workers};
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
worker_rlimit_nofile 20000;
events {{ worker_connections 16384; multi_accept on; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  client_body_temp_path {dir}/tmp;
  proxy_temp_path {dir}/tmp;
  fastcgi_temp_path {dir}/tmp;
  uwsgi_temp_path {dir}/tmp;
  scgi_temp_path {dir}/tmp;
{body}
}}
"""

# the auth service: 200 on /auth (whatever the method), 403 elsewhere (the reload test's /deny)
NGINX_AUTH = """  server {{
    listen 127.0.0.1:{port} backlog=4096 reuseport;
    location /auth {{ return 200; }}
    location / {{ return 403; }}
  }}"""

NGINX_STANDIN = """  server {{
    listen 127.0.0.1:{port} backlog=4096 reuseport;
    location / {{ return 200; }}
  }}"""

# the peer forwarder: what extauth does for this AuthConfig, in nginx
NGINX_FORWARD = """  upstream auth {{
    server 127.0.0.1:{auth};
    keepalive 64;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
  }}
  server {{
    listen 127.0.0.1:{port} backlog=4096 reuseport;
    location / {{
      rewrite ^ {auth_path}? break;
      proxy_pass http://auth;
      proxy_method POST;
      proxy_http_version 1.1;
      proxy_pass_request_headers off;
      proxy_pass_request_body off;
      proxy_set_header Host 127.0.0.1:{auth};
      proxy_set_header Connection "";
      proxy_set_header Content-Length "0";
      proxy_set_header authorization $http_authorization;
    }}
  }}"""


# the TLS auth service: as NGINX_AUTH, on a TLS listener (TLS 1.2 and 1.3, session cache)
NGINX_AUTH_TLS = """  server {{
    listen 127.0.0.1:{port} ssl backlog=4096 reuseport;
    ssl_certificate {tls}/server.pem;
    ssl_certificate_key {tls}/server.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:auth:10m;
    location /auth {{ return 200; }}
    location / {{ return 403; }}
  }}"""

# the peer forwarder over TLS: NGINX_FORWARD, verifying the auth service's certificate against
# the bench CA, reusing TLS sessions and keeping upstream connections alive
NGINX_FORWARD_TLS = """  upstream auth_tls {{
    server 127.0.0.1:{auth};
    keepalive 64;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
  }}
  server {{
    listen 127.0.0.1:{port} backlog=4096 reuseport;
    location / {{
      rewrite ^ {auth_path}? break;
      proxy_pass https://auth_tls;
      proxy_ssl_verify on;
      proxy_ssl_trusted_certificate {tls}/ca.pem;
      proxy_ssl_name localhost;
      proxy_ssl_session_reuse on;
      proxy_ssl_protocols TLSv1.2 TLSv1.3;
      proxy_method POST;
      proxy_http_version 1.1;
      proxy_pass_request_headers off;
      proxy_pass_request_body off;
      proxy_set_header Host 127.0.0.1:{auth};
      proxy_set_header Connection "";
      proxy_set_header Content-Length "0";
      proxy_set_header authorization $http_authorization;
    }}
  }}"""


# the peer cache: NGINX_FORWARD with proxy_cache keyed on the token, 200s kept 300 s, the
# auth service's own caching headers obeyed (it sends none); the zone holds far more than 1,000
NGINX_FORWARD_CACHED = (
    "  proxy_cache_path {dir}/cache levels=1:2 keys_zone=auth:10m max_size=100m inactive=600s;\n"
    + NGINX_FORWARD.replace(
        "      proxy_pass http://auth;\n",
        "      proxy_cache auth;\n"
        "      proxy_cache_key $http_authorization;\n"
        "      proxy_cache_valid 200 300s;\n"
        "      proxy_cache_lock on;\n"
        "      proxy_pass http://auth;\n",
    )
)
assert "proxy_cache auth;" in NGINX_FORWARD_CACHED

# wrk: each request carries the next of TOKENS tokens in turn (wrk.format does not merge the
# -H headers into a table it is given: Host is set here too)
WRK_TOKENS = """local i = 0
request = function()
  i = (i % {tokens}) + 1
  return wrk.format(nil, nil, {{["Host"] = "{host}", ["authorization"] = "token-" .. i}})
end
"""


def make_certs(d: Path) -> None:
    """A bench CA and a certificate for 127.0.0.1 and localhost it signed (EC P-256), with the
    openssl command: d/ca.pem, d/server.pem, d/server.key."""
    d.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", *ec, "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"), "-days", "30",
        "-subj", "/CN=extauth-bench-ca", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign")
    run("req", *ec, "-keyout", str(d / "server.key"), "-out", str(d / "server.csr"), "-subj", "/CN=localhost")
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", str(d / "server.csr"), "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key"),
        "-CAcreateserial", "-out", str(d / "server.pem"), "-days", "30", "-extfile", str(d / "server.ext"))


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.quick = args.quick
        e = os.environ
        self.rounds = int(e.get("BENCH_ROUNDS", 1 if self.quick else 3))
        self.conns = int(e.get("BENCH_CONNECTIONS", 32))
        self.sat_s = float(e.get("BENCH_SAT_SECONDS", 2 if self.quick else 8))
        self.lat_s = float(e.get("BENCH_LAT_SECONDS", 2 if self.quick else 10))
        self.warm_s = float(e.get("BENCH_WARMUP_SECONDS", 1 if self.quick else 2))
        self.rate = int(e["BENCH_RATE"]) if e.get("BENCH_RATE") else None
        self.mw = int(e.get("BENCH_MIDDLE_WORKERS", 1))
        self.auth_choice = e.get("BENCH_AUTH", "auto")
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.out = BENCH / "out" / stamp
        self.out.mkdir(parents=True, exist_ok=True)
        self.n_nginx = 0
        self.results: dict = {
            "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "quick": self.quick,
            "knobs": {
                "rounds": self.rounds,
                "connections": self.conns,
                "saturation_seconds": self.sat_s,
                "latency_seconds": self.lat_s,
                "warmup_seconds": self.warm_s,
                "middle_workers": self.mw,
            },
            "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
        }

    # ---------------- servers

    def nginx(self, name: str, body: str, workers: int = 1) -> subprocess.Popen:
        self.n_nginx += 1
        d = self.out / f"nginx-{self.n_nginx:03d}-{name}"
        (d / "tmp").mkdir(parents=True)
        conf = d / "nginx.conf"
        conf.write_text(NGINX_MAIN.format(workers=workers, dir=d, body=body))
        p = spawn([NGINX, "-p", d, "-c", conf, "-e", d / "error.log"], d / "stdout.log")
        return p

    def start_nginx_auth(self) -> tuple[subprocess.Popen, int]:
        port = free_port()
        p = self.nginx("auth", NGINX_AUTH.format(port=port), workers=1)
        wait_status(port, AUTH_PATH)
        return p, port

    def start_sample_auth(self) -> tuple[subprocess.Popen, int]:
        port = free_port()
        # its best case: the per-request log line off (RUST_LOG=warn), stdout to /dev/null
        p = spawn([SAMPLE_AUTH, "--listen", f"127.0.0.1:{port}"], Path(os.devnull), env={"PORT": str(port), "RUST_LOG": "warn"})
        wait_status(port, AUTH_PATH)
        return p, port

    def start_tls_auth(self) -> None:
        """The TLS auth service of g and h (nginx `return 200` on a TLS listener, 1 worker), its
        certificates, and extauth's config for g (the same AuthConfig, https url and caFile)."""
        self.tls_dir = self.out / "tls"
        make_certs(self.tls_dir)
        port = free_port()
        p = self.nginx("auth-tls", NGINX_AUTH_TLS.format(port=port, tls=self.tls_dir), workers=1)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 20:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.05)
        self.tls_auth_port, self.tls_auth_mid = port, Middle("auth", p, group=True)
        self.cfg_tls_dir = self.out / "config-tls"
        self.cfg_tls_dir.mkdir(parents=True, exist_ok=True)
        url = f"https://127.0.0.1:{port}{AUTH_PATH}"
        tls_lines = f"        tlsConfig:\n          caFile: {self.tls_dir / 'ca.pem'}\n"
        yaml_text = bench_yaml(url, self.standin_port).replace(f"url: {url}\n", f"url: {url}\n{tls_lines}", 1)
        (self.cfg_tls_dir / "bench.yaml").write_text(yaml_text)

    def write_config(self, d: Path, auth_port: int, standin_port: int) -> None:
        d.mkdir(parents=True, exist_ok=True)
        (d / "bench.yaml").write_text(
            bench_yaml(f"http://127.0.0.1:{auth_port}{AUTH_PATH}", standin_port))

    def start_extauth(self, config_dir: Path, workers: int | None, tag: str,
                      wait: bool = True) -> tuple[subprocess.Popen, int, int]:
        port, admin = free_port(), free_port()
        args = [EXTAUTH, "serve", "--config-dir", config_dir, "--listen", f"127.0.0.1:{port}",
                "--admin-listen", f"127.0.0.1:{admin}", "--shutdown-grace", "1s"]
        if workers:
            args += ["--workers", str(workers)]
        p = spawn(args, self.out / f"extauth-{tag}.log", env={"RUST_LOG": "info"})
        if wait:
            wait_status(admin, "/readyz", authz=None, host="127.0.0.1")
        return p, port, admin

    def envoy_bootstrap(self, extauth_port: int, listen: int, admin: int, direct_auth: int | None) -> Path:
        """`extauth envoy-config --bootstrap` for the bench config; for d, the same bootstrap with
        the ext_authz filter pointed at the auth service itself (path overridden to /auth)."""
        import yaml

        gen = subprocess.run(
            [EXTAUTH, "envoy-config", "--config-dir", str(self.cfg_dir), "--extauth-address",
             f"127.0.0.1:{extauth_port}", "--listen", f"127.0.0.1:{listen}", "--admin",
             f"127.0.0.1:{admin}", "--bootstrap"],
            check=True, capture_output=True, text=True,
        )
        boot = yaml.safe_load(gen.stdout)
        if direct_auth is not None:
            clusters = boot["static_resources"]["clusters"]
            ext = next(c for c in clusters if c["name"] == "extauth")
            auth = json.loads(json.dumps(ext))
            auth["name"] = "auth_service"
            auth["load_assignment"]["cluster_name"] = "auth_service"
            for eps in auth["load_assignment"]["endpoints"]:
                for lb in eps["lb_endpoints"]:
                    lb["endpoint"]["address"]["socket_address"]["port_value"] = direct_auth
            clusters.remove(ext)
            clusters.append(auth)
            for lst in boot["static_resources"]["listeners"]:
                for chain in lst["filter_chains"]:
                    for flt in chain["filters"]:
                        for hf in flt["typed_config"].get("http_filters", []):
                            if hf["name"] == "envoy.filters.http.ext_authz":
                                hs = hf["typed_config"]["http_service"]
                                hs["server_uri"]["uri"] = f"http://127.0.0.1:{direct_auth}"
                                hs["server_uri"]["cluster"] = "auth_service"
                                hs.pop("path_prefix", None)
                                hs["path_override"] = AUTH_PATH
        name = "envoy-d" if direct_auth is not None else "envoy-e"
        path = self.out / f"{name}-{listen}.yaml"
        path.write_text(yaml.safe_dump(boot, sort_keys=False))
        return path

    def start_envoy(self, boot: Path, listen: int, admin: int, tag: str) -> subprocess.Popen:
        p = spawn([ENVOY, "-c", boot, "--concurrency", str(self.mw), "--disable-hot-restart",
                   "-l", "warning"], self.out / f"envoy-{tag}.log")
        wait_status(admin, "/ready", authz=None, host="127.0.0.1", timeout=30)
        return p

    def start_scenario(self, key: str, tag: str) -> tuple[int, str, list[Middle], list[subprocess.Popen]]:
        """Starts the middle of scenario `key`; returns (port, path, middles, processes)."""
        if key == "a":
            return self.auth_port, AUTH_PATH, [], []
        if key == "g":
            p, port, _ = self.start_extauth(self.cfg_tls_dir, self.mw, tag)
            wait_status(port, CHECK_PATH)
            return port, CHECK_PATH, [Middle("extauth", p)], [p]
        if key == "h":
            port = free_port()
            p = self.nginx("forward-tls", NGINX_FORWARD_TLS.format(
                port=port, auth=self.tls_auth_port, auth_path=AUTH_PATH, tls=self.tls_dir), workers=self.mw)
            wait_status(port, CHECK_PATH)
            return port, CHECK_PATH, [Middle("nginx", p, group=True)], [p]
        if key == "i":
            p, port, _ = self.start_extauth(self.cfg_cached_dir, self.mw, tag)
            wait_status(port, CHECK_PATH)
            return port, CHECK_PATH, [Middle("extauth", p)], [p]
        if key == "j":
            port = free_port()
            d = self.out / f"nginx-cache-{tag}"
            d.mkdir(parents=True, exist_ok=True)
            p = self.nginx("forward-cached", NGINX_FORWARD_CACHED.format(
                port=port, auth=self.auth_port, auth_path=AUTH_PATH, dir=d), workers=self.mw)
            wait_status(port, CHECK_PATH)
            return port, CHECK_PATH, [Middle("nginx", p, group=True)], [p]
        if key in ("b", "f"):
            p, port, _ = self.start_extauth(self.cfg_dir, 2 if key == "f" else self.mw, tag)
            wait_status(port, CHECK_PATH)
            return port, CHECK_PATH, [Middle("extauth", p)], [p]
        if key == "c":
            port = free_port()
            p = self.nginx("forward", NGINX_FORWARD.format(port=port, auth=self.auth_port, auth_path=AUTH_PATH),
                           workers=self.mw)
            wait_status(port, CHECK_PATH)
            return port, CHECK_PATH, [Middle("nginx", p, group=True)], [p]
        if key == "d":
            listen, admin = free_port(), free_port()
            boot = self.envoy_bootstrap(1, listen, admin, direct_auth=self.auth_port)
            p = self.start_envoy(boot, listen, admin, tag)
            wait_status(listen, CHECK_PATH)
            return listen, CHECK_PATH, [Middle("envoy", p)], [p]
        if key == "e":
            xp, xport, _ = self.start_extauth(self.cfg_dir, self.mw, tag)
            listen, admin = free_port(), free_port()
            boot = self.envoy_bootstrap(xport, listen, admin, direct_auth=None)
            p = self.start_envoy(boot, listen, admin, tag)
            wait_status(listen, CHECK_PATH)
            return listen, CHECK_PATH, [Middle("envoy", p), Middle("extauth", xp)], [p, xp]
        if key in REFERENCE:
            port = free_port()
            p = spawn([HOP, "--mode", REFERENCE[key][0], "--listen", f"127.0.0.1:{port}", "--upstream",
                       f"http://127.0.0.1:{self.auth_port}{AUTH_PATH}", "--workers", str(self.mw)],
                      self.out / f"hop-{tag}.log")
            wait_status(port, CHECK_PATH)
            return port, CHECK_PATH, [Middle("hop", p)], [p]
        raise ValueError(key)

    # ---------------- load generators

    def wrk(self, port: int, path: str, secs: float, host: str = HOST, tokens: bool = False) -> dict:
        """wrk at saturation; with `tokens`, each request carries the next of TOKENS tokens."""
        cmd = [WRK, "-t1", f"-c{self.conns}", f"-d{secs:g}s", "--timeout", "5s"]
        if tokens:
            script = self.out / "tokens.lua"
            script.write_text(WRK_TOKENS.format(tokens=TOKENS, host=host))
            cmd += ["-s", str(script)]
        else:
            cmd += ["-H", f"Host: {host}", "-H", f"authorization: {AUTHZ}"]
        cmd.append(f"http://127.0.0.1:{port}{path}")
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=secs + 30)
        out = r.stdout
        m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
        if r.returncode != 0 or not m:
            raise RuntimeError(f"wrk failed: {out}\n{r.stderr}")
        requests = int(m.group(1))
        non2xx = int((re.search(r"Non-2xx or 3xx responses: (\d+)", out) or [0, 0])[1])
        sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
        errors = sum(int(x) for x in sock.groups()) if sock else 0
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        return {"requests": requests, "rps": rps, "non2xx": non2xx, "socket_errors": errors}

    def oha(self, port: int, path: str, secs: float, rate: int, csv_path: Path) -> dict:
        cmd = [OHA, "--no-tui", "--output-format", "csv", "-o", str(csv_path), "-z", f"{secs:g}s",
               "-c", str(self.conns), "-q", str(rate), "--latency-correction", "--host", HOST,
               "-H", f"authorization: {AUTHZ}", f"http://127.0.0.1:{port}{path}"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=secs + 60)
        if r.returncode != 0:
            raise RuntimeError(f"oha failed: {r.stdout}\n{r.stderr}")
        lat, bad = [], 0
        with open(csv_path) as f:
            for row in csv.DictReader(f):
                if row["status"] == "200":
                    lat.append(float(row["request-duration"]))
                else:
                    bad += 1
        lat.sort()
        return {"requests": len(lat) + bad, "non200": bad, **percentiles(lat)}

    # ---------------- measurements

    def measure(self, key: str, rnd: int, phase: str) -> dict:
        tag = f"{phase}-{key}-{rnd}"
        port, path, middles, procs = self.start_scenario(key, tag)
        tokens = key in CACHED
        try:
            # for i and j the warm-up also fills the cache: every token decided at least once
            self.wrk(port, path, self.warm_s, tokens=tokens)
            auth_mid = self.tls_auth_mid if key in TLS else self.auth_mid
            watched = middles + [auth_mid]
            before = {m.name: m.cpu_split() for m in watched}
            threads0 = {m.name: thread_cpu(m.proc.pid) for m in middles if m.name == "extauth"}
            t0 = time.monotonic()
            if phase == "sat":
                res = self.wrk(port, path, self.sat_s, tokens=tokens)
            else:
                res = self.oha(port, path, self.lat_s, self.rate, self.out / f"{tag}.csv")
            wall = time.monotonic() - t0
            after = {m.name: m.cpu_split() for m in watched}
            threads1 = {m.name: thread_cpu(m.proc.pid) for m in middles if m.name == "extauth"}
            res["wall_s"] = wall
            res["cpu"] = {}
            n = res["requests"]
            for m in watched:
                user, sys_ = (a - b for a, b in zip(after[m.name], before[m.name]))
                d = user + sys_
                name = "auth service" if m is auth_mid else m.name
                res["cpu"][name] = {
                    "seconds": d,
                    "user_s": user,
                    "sys_s": sys_,
                    "per_1k": d / n * 1000 if n else None,
                    "user_per_1k": user / n * 1000 if n else None,
                    "sys_per_1k": sys_ / n * 1000 if n else None,
                    "util": d / wall,
                }
            for name, t1 in threads1.items():
                t0s = threads0[name]
                res["threads_util"] = sorted(
                    ((t1[t] - t0s.get(t, 0.0)) / wall for t in t1), reverse=True)
            res["peak_rss_kb"] = {m.name: m.peak_rss_kb() for m in middles}
            return res
        finally:
            for p in procs:
                stop(p)

    def choose_auth(self) -> None:
        """Runs both candidate auth services directly; the faster serves every scenario."""
        log("auth service: nginx `return 200` (1 worker) vs the sample service (release)")
        ng, ng_port = self.start_nginx_auth()
        sa, sa_port = self.start_sample_auth()
        cands = {"nginx": (ng, ng_port, Middle("nginx", ng, group=True)),
                 "sample": (sa, sa_port, Middle("sample", sa))}
        runs: dict[str, list] = {k: [] for k in cands}
        secs = 2 if self.quick else 4
        for _ in range(2 if self.quick else 3):
            for name, (_, port, mid) in cands.items():
                self.wrk(port, AUTH_PATH, 1)
                c0 = mid.cpu()
                r = self.wrk(port, AUTH_PATH, secs)
                r["cpu_per_1k"] = (mid.cpu() - c0) / r["requests"] * 1000
                runs[name].append(r)
        summary = {k: {"rps": med([r["rps"] for r in v]),
                       "cpu_per_1k": med([r["cpu_per_1k"] for r in v]),
                       "errors": sum(r["non2xx"] + r["socket_errors"] for r in v)}
                   for k, v in runs.items()}
        chosen = self.auth_choice if self.auth_choice in cands else pick_auth(summary)
        for k, (p, _, _) in cands.items():
            if k != chosen:
                stop(p)
        self.auth_proc, self.auth_port, self.auth_mid = cands[chosen]
        self.auth_mid.name = "auth"
        self.results["auth_service"] = {"chosen": chosen, "candidates": summary,
                                        "forced": self.auth_choice in cands}
        log(f"  {json.dumps(summary)} -> {chosen}")

    def run_scenarios(self) -> None:
        keys = MAIN + (["f"] if self.args.only in (None, "hot") else [])
        if self.args.only == "hot":
            keys = ["b", "f"]
        elif self.args.only == "cache":
            # r0 (actix-web answering by itself) is the ceiling any cached answer can reach here
            keys = ["b", "c"] + CACHED + ["r0"]
        else:
            keys += TLS + CACHED + list(REFERENCE)
        # r1 (actix-web + awc alone) also at the fixed rate: the latency of the stack itself
        lat_keys = [k for k in keys if (k not in REFERENCE or k == "r1") and k not in CACHED]
        sat: dict[str, list] = {k: [] for k in keys}
        lat: dict[str, list] = {k: [] for k in lat_keys}
        for rnd in range(1, self.rounds + 1):
            for k in keys:
                log(f"saturation round {rnd}/{self.rounds}: {k}. {SCENARIOS[k]}")
                r = self.measure(k, rnd, "sat")
                log(f"  {r['rps']:.0f} req/s, middle CPU {fmt_cpu(r)}")
                sat[k].append(r)
        if self.rate is None:
            slowest = min(med([r["rps"] for r in sat[k]]) for k in keys if k in MAIN + ["b"])
            self.rate = nice_rate(slowest / 4)
            self.results["rate_rule"] = f"a quarter of the slowest scenario's median saturation ({slowest:.0f} req/s)"
        else:
            self.results["rate_rule"] = "set by BENCH_RATE"
        self.results["rate"] = self.rate
        for rnd in range(1, self.rounds + 1):
            for k in lat_keys:
                log(f"latency round {rnd}/{self.rounds} at {self.rate} req/s: {k}. {SCENARIOS[k]}")
                r = self.measure(k, rnd, "lat")
                log(f"  p50 {r['p50'] * 1e3:.3f} ms p99 {r['p99'] * 1e3:.3f} ms p99.9 {r['p99.9'] * 1e3:.3f} ms"
                    f" ({r['non200']} non-200)")
                lat[k].append(r)
        self.results["saturation"] = sat
        self.results["latency"] = lat

    # ---------------- scale

    def scale(self) -> None:
        sizes = [1, 100] if self.quick else [1, 1000, 10000]
        self.results["scale"] = []
        # its own auth service: nginx, whose keep-alive (300 s) outlives the test, so that a pooled
        # connection that goes away was closed by extauth, not by the auth service
        auth_proc, self.scale_auth = self.start_nginx_auth()
        try:
            self.scale_sizes(sizes)
        finally:
            stop(auth_proc)

    def scale_sizes(self, sizes: list[int]) -> None:
        for n in sizes:
            d = Path(tempfile.mkdtemp(prefix="extauth-bench-"))
            try:
                if n == 1:
                    # the example configuration, its url pointed at the bench's auth service
                    for f in sorted((ROOT / "config").glob("*.yaml")):
                        text = f.read_text().replace("http://127.0.0.1:9001/auth",
                                                     f"http://127.0.0.1:{self.scale_auth}{AUTH_PATH}")
                        (d / f.name).write_text(text)
                    hosts = [HOST]
                else:
                    for i in range(n):
                        (d / f"tenant-{i:05d}.yaml").write_text(tenant_yaml(i, self.scale_auth, AUTH_PATH))
                    hosts = [f"tenant-{i:05d}" for i in range(n)]
                # files written just now are younger than extauth's --settle-time, and its first
                # load would wait for them: date them back, as files that exist before a start
                minute_ago = time.time() - 60
                for f in d.iterdir():
                    os.utime(f, (minute_ago, minute_ago))
                runs = []
                for rnd in range(self.rounds):
                    log(f"scale round {rnd + 1}/{self.rounds}: {n} AuthConfig(s)")
                    r = self.scale_one(n, d, hosts, rnd)
                    log("  ready in {:.3f} s, peak RSS {:.1f} MB{}".format(
                        r["ready_s"], r["peak_rss_kb"] / 1024,
                        "" if "reload_s" not in r else f", reload served in {r['reload_s']} s"))
                    runs.append(r)
                self.results["scale"].append(summarise_scale(n, runs))
            finally:
                shutil.rmtree(d, ignore_errors=True)

    def scale_one(self, n: int, d: Path, hosts: list[str], rnd: int) -> dict:
        port, admin = free_port(), free_port()
        logfile = self.out / f"extauth-scale-{n}-{rnd + 1}.log"
        t0 = time.monotonic()
        p = spawn([EXTAUTH, "serve", "--config-dir", d, "--listen", f"127.0.0.1:{port}", "--admin-listen",
                   f"127.0.0.1:{admin}", "--shutdown-grace", "1s"], logfile, env={"RUST_LOG": "info"})
        try:
            ready = None
            while time.monotonic() - t0 < 60:
                try:
                    if http_get(admin, "/readyz", host="127.0.0.1", authz=None, timeout=1) == 200:
                        ready = time.monotonic() - t0
                        break
                except OSError:
                    pass
                time.sleep(0.002)
            if ready is None:
                raise RuntimeError(f"extauth with {n} AuthConfigs not ready in 60 s")
            res: dict = {"ready_s": ready, "rss_ready_kb": status_kb(p.pid, "VmRSS")}
            # traffic: one check on up to 200 configs spread over the set, then wrk on the first
            m = max(1, min(200, n // 5))
            sample = sorted({i * n // m for i in range(m)})
            for i in sample:
                st = http_get(port, CHECK_PATH, host=hosts[i])
                if st != 200:
                    raise RuntimeError(f"check on {hosts[i]}: {st}")
            w = self.wrk(port, CHECK_PATH, 1 if self.quick else 2, host=hosts[0])
            res["traffic"] = {"configs_checked": len(sample), "hot_requests": w["requests"]}
            res["rss_after_kb"] = status_kb(p.pid, "VmRSS")
            res["peak_rss_kb"] = status_kb(p.pid, "VmHWM")
            if n > 1:
                res.update(self.reload_test(p, port, d, n, hosts, sample, logfile, rnd))
            return res
        finally:
            stop(p)

    def reload_test(self, p, port: int, d: Path, n: int, hosts: list[str], sample: list[int],
                    logfile: Path, rnd: int) -> dict:
        """Rewrites one file (a different one each round) so that its AuthConfig now denies."""
        k = next(i for i in range(n // 2 + 1 + 7 * rnd, n) if i not in sample)
        conns_others = auth_conns(p.pid, self.scale_auth)
        if http_get(port, CHECK_PATH, host=hosts[k]) != 200:
            raise RuntimeError("changed config: not 200 before the change")
        conns_k = auth_conns(p.pid, self.scale_auth) - conns_others
        log_offset = logfile.stat().st_size
        tmp = d / f".tenant-{k:05d}.yaml.tmp"
        tmp.write_text(tenant_yaml(k, self.scale_auth, "/deny"))
        t0 = time.monotonic()
        os.replace(tmp, d / f"tenant-{k:05d}.yaml")
        took = None
        while time.monotonic() - t0 < 15:
            if http_get(port, CHECK_PATH, host=hosts[k]) == 401:
                took = time.monotonic() - t0
                break
            time.sleep(0.002)
        time.sleep(0.2)
        for i in sample:
            if http_get(port, CHECK_PATH, host=hosts[i]) != 200:
                raise RuntimeError(f"after the change, {hosts[i]} no longer allowed")
        conns_after = auth_conns(p.pid, self.scale_auth)
        lines = [ln for ln in logfile.read_text(errors="replace")[log_offset:].splitlines()
                 if "got new config" in ln]
        change = lines[0].split("got new config", 1)[1].strip() if lines else "(no log line)"
        # date the rewritten file back as the others are: the next round's start would otherwise
        # hold it for --settle-time (it is younger than that), and 'ready' would measure the wait
        minute_ago = time.time() - 60
        os.utime(d / f"tenant-{k:05d}.yaml", (minute_ago, minute_ago))
        return {
            "reload_s": took,
            "changed": hosts[k],
            "log_changes": change,
            "pooled_conns_others_before": len(conns_others),
            "pooled_conns_others_kept": len(conns_others & conns_after),
            "changed_conns_dropped": len(conns_k - conns_after),
            "changed_conns_before": len(conns_k),
        }

    # ---------------- the run

    def run(self) -> None:
        only = self.args.only
        self.results["machine"] = machine()
        self.results["versions"] = versions()
        self.stand_in, self.standin_port = None, free_port()
        if only in (None, "scenarios", "hot", "cache"):
            self.choose_auth()
            self.stand_in = self.nginx("stand-in", NGINX_STANDIN.format(port=self.standin_port), workers=1)
            wait_status(self.standin_port, "/")
            self.cfg_dir = self.out / "config"
            self.write_config(self.cfg_dir, self.auth_port, self.standin_port)
            self.cfg_cached_dir = self.out / "config-cached"
            self.cfg_cached_dir.mkdir(parents=True, exist_ok=True)
            (self.cfg_cached_dir / "bench.yaml").write_text(
                bench_yaml(f"http://127.0.0.1:{self.auth_port}{AUTH_PATH}", self.standin_port, cache=True))
            if only not in ("hot", "cache"):
                self.start_tls_auth()
            self.run_scenarios()
        if only in (None, "scale"):
            self.scale()
        self.results["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
        self.results["finished"] = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
        (self.out / "results.json").write_text(json.dumps(self.results, indent=1))
        import report

        report.write(self.results, self.out, BENCH, readme=ROOT / "README.md" if (only is None and not self.quick) else None,
                     part=only)
        suffix = f"-{only}" if only else ""
        log(f"wrote bench/results{suffix}.md and bench/latency{suffix}.png (raw: {self.out.relative_to(ROOT)})")


def pick_auth(summary: dict) -> str:
    """The faster by throughput; when both are within 5% (both held back by the load generator),
    the one that spends less CPU per request, which leaves more of the cores to the middle."""
    a, b = sorted(summary, key=lambda k: summary[k]["rps"], reverse=True)
    if summary[b]["rps"] >= 0.95 * summary[a]["rps"]:
        return min((a, b), key=lambda k: summary[k]["cpu_per_1k"])
    return a


def summarise_scale(n: int, runs: list[dict]) -> dict:
    out: dict = {"configs": n, "rounds": runs}
    for key in ("ready_s", "rss_ready_kb", "rss_after_kb", "peak_rss_kb"):
        out[key] = med([r[key] for r in runs])
    if "reload_s" in runs[0]:
        times = [r["reload_s"] for r in runs]
        out["reload_s"] = None if None in times else med(times)
        out["reload_rounds"] = times
        for key in ("pooled_conns_others_before", "pooled_conns_others_kept", "changed_conns_dropped",
                    "changed_conns_before"):
            out[key] = sum(r[key] for r in runs)
        out["changed"] = [r["changed"] for r in runs]
        out["log_changes"] = [r["log_changes"] for r in runs]
    return out


def tenant_yaml(i: int, auth_port: int, path: str) -> str:
    return auth_yaml(f"tenant-{i:05d}", f"http://127.0.0.1:{auth_port}{path}", f"tenant-{i:05d}")


def bench_yaml(auth_url: str, standin_port: int, cache: bool = False) -> str:
    """The scenarios' config: AuthConfig and VirtualService `bench/bench` for HOST, whose route
    goes to the Upstream `bench/stand-in` on STANDIN_PORT (what `envoy-config` needs); with
    `cache`, the step's decision cache on (scenario i)."""
    route_action = "\n".join([
        "      routeAction:",
        "        single:",
        "          upstream:",
        "            name: stand-in",
        "            namespace: bench",
    ])
    text = auth_yaml("bench", auth_url, HOST, route_action)
    if cache:
        text = text.replace(f"url: {auth_url}\n", f"url: {auth_url}\n        cache:\n          maxAge: 300s\n"
                            f"          maxEntries: {10 * TOKENS}\n", 1)
    return text + f"""---
apiVersion: gloo.solo.io/v1
kind: Upstream
metadata:
  name: stand-in
  namespace: bench
spec:
  static:
    hosts:
    - addr: 127.0.0.1
      port: {standin_port}
"""


def auth_yaml(name: str, auth_url: str, host: str, route_action: str = "") -> str:
    """An AuthConfig `bench/NAME` calling AUTH_URL with `authorization` copied, and a
    VirtualService `bench/NAME` for HOST whose one route (ROUTE_ACTION lines, if any) it
    protects."""
    action = f"\n{route_action}" if route_action else ""
    return f"""apiVersion: enterprise.gloo.solo.io/v1
kind: AuthConfig
metadata:
  name: {name}
  namespace: bench
spec:
  configs:
  - passThroughAuth:
      http:
        url: {auth_url}
        request:
          allowedHeaders:
          - authorization
---
apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata:
  name: {name}
  namespace: bench
spec:
  virtualHost:
    domains:
    - {host}
    routes:
    - matchers:
      - prefix: /{action}
    options:
      extauth:
        configRef:
          name: {name}
          namespace: bench
"""


def auth_conns(pid: int, auth_port: int) -> set[int]:
    """Local ports of the process's established connections to the auth service."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            t = os.readlink(fd)
        except OSError:
            continue
        if t.startswith("socket:["):
            inodes.add(t[8:-1])
    ports = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        if f[3] == "01" and f[9] in inodes and int(f[2].split(":")[1], 16) == auth_port:
            ports.add(int(f[1].split(":")[1], 16))
    return ports


def percentiles(sorted_lat: list[float]) -> dict:
    def q(p: float) -> float | None:
        if not sorted_lat:
            return None
        i = min(len(sorted_lat) - 1, max(0, int(round(p * len(sorted_lat) + 0.5)) - 1))
        return sorted_lat[i]

    return {"p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "p99.9": q(0.999), "max": sorted_lat[-1] if sorted_lat else None}


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def nice_rate(x: float) -> int:
    step = 100 if x >= 1000 else 10
    return max(step, int(x // step) * step)


def fmt_cpu(r: dict) -> str:
    return ", ".join(f"{k} {v['per_1k'] * 1e3:.1f} µs/req ({v['user_per_1k'] * 1e3:.1f} user + "
                     f"{v['sys_per_1k'] * 1e3:.1f} sys)" for k, v in r["cpu"].items() if v["per_1k"] is not None)


def run_text(cmd: list[str]) -> str:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return (r.stdout + r.stderr).strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unavailable ({e})"


def machine() -> dict:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), "unknown")
    mem_kb = status_like("/proc/meminfo", "MemTotal")
    return {"cores": os.cpu_count(), "memory_gib": round(mem_kb / 1024 / 1024, 1), "cpu": cpu}


def status_like(path: str, key: str) -> int:
    for ln in Path(path).read_text().splitlines():
        if ln.startswith(key + ":"):
            return int(ln.split()[1])
    return 0


def versions() -> dict:
    first = lambda s: s.splitlines()[0] if s else s  # noqa: E731
    return {
        "extauth": first(run_text([EXTAUTH, "--version"])) + " (" + first(run_text(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty"])) + ")",
        "nginx": first(run_text([NGINX, "-v"])).replace("nginx version: ", ""),
        "envoy": first(run_text([ENVOY, "--version"])).split("version:")[-1].strip(),
        "wrk": first(run_text([WRK, "-v"])).split(" Copyright")[0],
        "oha": first(run_text([OHA, "--version"])),
        "rustc": first(run_text(["rustc", "--version"])),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short durations and one round, to try the harness")
    ap.add_argument("--only", choices=["scenarios", "hot", "cache", "scale"], help="run one part only")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGHUP, lambda *_: sys.exit(129))
    sys.path.insert(0, str(BENCH))
    try:
        Bench(args).run()
    finally:
        stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
