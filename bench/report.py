"""Writes bench/results.md, bench/latency.png and the README's benchmark block from a run's results."""
from __future__ import annotations

import csv
import math
import re
import statistics
from pathlib import Path

NAMES = {
    "a": "a. direct to the auth service",
    "b": "b. extauth",
    "c": "c. nginx",
    "d": "d. Envoy → auth service",
    "e": "e. Envoy → extauth",
    "f": "f. extauth, --workers 2",
    "g": "g. extauth, auth service over TLS",
    "h": "h. nginx, auth service over TLS",
    "i": "i. extauth, decision cache warm",
    "j": "j. nginx, proxy_cache warm",
    "r0": "r0. actix-web alone (reference)",
    "r1": "r1. actix-web + awc (reference)",
    "r2": "r2. actix-web + hyper (reference)",
}
PLAIN = {
    "a": "load → auth service (the floor)",
    "b": "load → extauth → auth service",
    "c": "load → nginx (proxy_pass, upstream keepalive) → auth service",
    "d": "load → Envoy, whose ext_authz calls the auth service → upstream stand-in",
    "e": "load → Envoy → extauth → auth service; Envoy → upstream stand-in",
    "f": "as b with `--workers 2`: all load on one AuthConfig",
    "g": "as b, the auth service over TLS: an https url with `tlsConfig.caFile`, keep-alive",
    "h": "as c, the auth service over TLS: `proxy_pass https://`, certificate verified, session reuse, upstream keepalive",
    "i": "as b with the step's `cache` on, warm: the load cycles through 1,000 distinct tokens, each decided once before",
    "j": "as c with `proxy_cache` keyed on the token (200s kept 300 s), warm: the same 1,000 tokens",
    "r0": "load → actix-web answering 200 itself (no upstream call); a reference prototype",
    "r1": "load → actix-web + awc (plain forwarding) → auth service; a reference prototype",
    "r2": "load → actix-web + hyper 1 (hyper-util legacy pool) → auth service; a reference prototype",
}
REFERENCE = ("r0", "r1", "r2")
README_BEGIN = "<!-- bench:begin -->"
README_END = "<!-- bench:end -->"


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def middle_cpu(run: dict) -> float | None:
    """CPU seconds per 1,000 requests of the process(es) in the middle (Envoy + extauth in e)."""
    vals = [v["per_1k"] for k, v in run["cpu"].items() if k != "auth service"]
    return sum(vals) if vals else None


def middle_rss_kb(run: dict) -> int | None:
    vals = list(run.get("peak_rss_kb", {}).values())
    return sum(vals) if vals else None


def ms(x):
    return "–" if x is None else f"{x * 1e3:.3f}"


def mb(kb):
    return "–" if kb is None else f"{kb / 1024:.1f}"


def cpu_fmt(x):
    return "–" if x is None else f"{x:.4f}"


def ratio(x, y):
    if x is None or y is None or y == 0:
        return None
    return x / y


def rfmt(r):
    return "–" if r is None else f"{r:.2f}"


def figures(res: dict) -> dict:
    """Median figures per scenario."""
    out = {}
    sat, lat = res.get("saturation", {}), res.get("latency", {})
    for k in sat:
        s, l_ = sat[k], lat.get(k, [])
        f = {
            "rps": med([r["rps"] for r in s]),
            "rps_rounds": [r["rps"] for r in s],
            "cpu_sat": med([middle_cpu(r) for r in s]),
            "cpu_sat_rounds": [middle_cpu(r) for r in s],
            "cpu_lat": med([middle_cpu(r) for r in l_]),
            "rss_kb": med([middle_rss_kb(r) for r in s + l_]),
            "p50": med([r["p50"] for r in l_]),
            "p99": med([r["p99"] for r in l_]),
            "p99.9": med([r["p99.9"] for r in l_]),
            "p99_rounds": [r["p99"] for r in l_],
            "auth_cpu": med([r["cpu"]["auth service"]["per_1k"] for r in s]),
            "errors": sum(r["non2xx"] + r["socket_errors"] for r in s) + sum(r["non200"] for r in l_),
            "parts": {},
        }
        names = [n for n in s[0]["cpu"] if n != "auth service"]
        for n in names:
            f["parts"][n] = {
                "cpu_sat": med([r["cpu"][n]["per_1k"] for r in s]),
                "user_sat": med([r["cpu"][n].get("user_per_1k") for r in s]),
                "sys_sat": med([r["cpu"][n].get("sys_per_1k") for r in s]),
                "util_sat": med([r["cpu"][n]["util"] for r in s]),
                "rss_kb": med([r["peak_rss_kb"][n] for r in s + l_]),
            }
        if any("threads_util" in r for r in s):
            f["threads"] = [r["threads_util"] for r in s if "threads_util" in r]
        out[k] = f
    return out


def write(res: dict, out: Path, bench: Path, readme: Path | None, part: str | None = None) -> None:
    """A whole run writes bench/results.md and bench/latency.png; a run of one part (`--only
    PART`) writes bench/results-PART.md and bench/latency-PART.png, leaving the whole run's."""
    figs = figures(res)
    suffix = f"-{part}" if part else ""
    png = f"latency{suffix}.png"
    plot(res, out, bench / png, figs)
    md = render(res, figs).replace("](latency.png)", f"]({png})")
    (bench / f"results{suffix}.md").write_text(md)
    (out / "results.md").write_text(md)
    if readme is not None and figs:
        update_readme(readme, res, figs)


def machine_line(res: dict) -> str:
    m = res["machine"]
    return f"{m['cores']} cores, {m['memory_gib']:g} GiB memory, {m['cpu']}"


def render(res: dict, figs: dict) -> str:
    k = res["knobs"]
    v = res["versions"]
    L = []
    L.append("# extauth benchmarks\n")
    L.append(f"Run of {res['started'][:10]} ({res['started']} to {res['finished']}), written by `bench/run`"
             + (" **with --quick: short runs for trying the harness, not figures to quote**" if res["quick"] else "")
             + ".\n")
    L.append(f"- Machine: {machine_line(res)}.")
    L.append(f"- Load average (1, 5, 15 min) before: {' '.join(res['loadavg_start'])}; after: "
             f"{' '.join(res['loadavg_end'])}. Everything (load generator, middle, auth service, "
             "stand-in) shares the same cores, so other work on the machine shows in the figures.")
    L.append(f"- Versions: {v['extauth']}; {v['nginx']}; Envoy {v['envoy']}; {v['wrk']}; "
             f"{v['oha']}; {v['rustc']}.\n")

    auth = res.get("auth_service", {})
    if figs:
        L.append("## How it was measured\n")
        L.append(f"- **Auth service** (the same for every scenario): **{auth_name(auth['chosen'])}**"
                 + (" (forced by BENCH_AUTH)." if auth.get("forced") else ", the faster of the two when "
                    "called directly (wrk, same connections; medians; when their throughputs are within 5% "
                    "of each other, both held back by the load generator, the one spending less CPU per "
                    "request, which leaves more of the shared cores to the rest):"))
        if auth.get("candidates"):
            L.append("")
            L.append("  | candidate | throughput (req/s) | its CPU s per 1,000 req | errors |")
            L.append("  |---|---:|---:|---:|")
            for name, c in auth["candidates"].items():
                L.append(f"  | {auth_name(name)} | {c['rps']:.0f} | {cpu_fmt(c['cpu_per_1k'])} | {c['errors']} |")
            L.append("")
        L.append("- **Scenarios**, each check carrying `Host: foo-http` and `authorization: authorize me` "
                 "(i and j: `authorization: token-N`, N cycling through 1 to 1,000, the cache warmed by the "
                 "warm-up run):")
        for key in figs:
            L.append(f"  - {key}. {PLAIN[key]}")
        L.append(f"- **Wiring**: extauth serves an AuthConfig whose url is the auth service's `/auth` with "
                 f"`allowedHeaders: [authorization]`, and a VirtualService for `foo-http`. nginx (c) forwards "
                 f"as extauth does: `POST /auth`, only `authorization` copied, no body, upstream keepalive. "
                 f"Envoy (e) runs the bootstrap of `extauth envoy-config --bootstrap` for the same directory; "
                 f"d is the same bootstrap with the ext_authz `http_service` pointed at the auth service "
                 f"(`path_override: /auth`). The upstream stand-in is nginx `return 200` (1 worker)."
                 + (" g and h call their own auth service, nginx `return 200` on a TLS listener (1 worker, "
                    "TLS 1.2 and 1.3, a certificate for 127.0.0.1 made by the bench's CA with openssl); "
                    "extauth (g) trusts that CA through `tlsConfig.caFile`, nginx (h) through "
                    "`proxy_ssl_trusted_certificate`, both verifying the name and keeping connections alive."
                    if "g" in figs else ""))
        L.append(f"- **Threads of the middle**: extauth `--workers {k['middle_workers']}`, nginx "
                 f"`worker_processes {k['middle_workers']}`, Envoy `--concurrency {k['middle_workers']}` "
                 f"(f: extauth `--workers 2`).")
        L.append(f"- **Throughput at saturation**: `wrk -t1 -c{k['connections']}` for {k['saturation_seconds']:g} s "
                 f"after a {k['warmup_seconds']:g} s warm-up.")
        L.append(f"- **Latency** at a fixed rate of **{res['rate']} req/s** ({res['rate_rule']}): "
                 f"`oha -c {k['connections']} -q {res['rate']} --latency-correction` (rate-limited, corrected "
                 f"for coordinated omission) for {k['latency_seconds']:g} s after a warm-up; percentiles "
                 f"over every request of the run.")
        if any(key in figs for key in REFERENCE):
            L.append(f"- **Reference prototypes** (r0, r1, r2): small actix-web servers written for this "
                     f"benchmark only, not the product (extauth itself uses awc), with `workers({k['middle_workers']})` "
                     f"and one client per worker. r1 and r2 forward as nginx (c) does (`POST /auth`, only "
                     f"`authorization` copied, no body, the answer read to its end) and answer 200 when the auth "
                     f"service said 200. Measured at saturation only.")
        L.append("- **CPU of the middle**: utime + stime of the whole process (all threads; nginx: master and "
                 "worker) from `/proc/PID/stat`, read before and after the measured run, divided by the "
                 "requests completed; in e, Envoy's and extauth's added. User (utime) and system (stime) "
                 "time are also kept apart. **Peak RSS**: `VmHWM` from `/proc/PID/status` (nginx: the worker).")
        order = " ".join(key for key in figs if key != "a")
        L.append(f"- {k['rounds']} rounds, interleaved (a {order}, a b c …); every server of a scenario is "
                 f"started afresh for each run. Figures are medians over the rounds.\n")

        L.append(f"## Results (medians of {k['rounds']} rounds)\n")
        L.append(f"| scenario | throughput (req/s) | p50 (ms) | p99 (ms) | p99.9 (ms) | middle CPU s per 1,000 req, saturated | same, at {res['rate']} req/s | peak RSS of the middle (MB) |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|")
        for key, f in figs.items():
            if key in REFERENCE:
                continue
            L.append(f"| {NAMES[key]} | {f['rps']:.0f} | {ms(f['p50'])} | {ms(f['p99'])} | {ms(f['p99.9'])} | "
                     f"{cpu_fmt(f['cpu_sat'])} | {cpu_fmt(f['cpu_lat'])} | {mb(f['rss_kb'])} |")
        L.append("")
        L.append(f"Latency percentiles are at {res['rate']} req/s; scenario a has no middle process. "
                 "Breakdown of the middle, and the rounds"
                 + (" (r0 and r2: saturation only)" if any(key in figs for key in REFERENCE) else "") + ":\n")
        L.append("| scenario | middle process: CPU s per 1,000 req (saturated), CPU use, peak RSS | auth service CPU s per 1,000 req | throughput per round | p99 per round (ms) | failed requests |")
        L.append("|---|---|---:|---|---|---:|")
        for key, f in figs.items():
            parts = "; ".join(f"{n}: {cpu_fmt(p['cpu_sat'])}, {p['util_sat'] * 100:.0f}% of a core, {mb(p['rss_kb'])} MB"
                              for n, p in f["parts"].items()) or "–"
            L.append(f"| {key} | {parts} | {cpu_fmt(f['auth_cpu'])} | "
                     f"{', '.join(f'{x:.0f}' for x in f['rps_rounds'])} | "
                     f"{', '.join(ms(x) for x in f['p99_rounds']) or '–'} | {f['errors']} |")
        L.append("")

        L.append("## Ratios (from this run's medians)\n")
        L.append("Round by round: the two scenarios of a ratio ran one after the other in the same round.\n")
        L.append("| ratio | throughput | p50 | p99 | p99.9 | middle CPU per request | peak RSS | throughput, round by round |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---|")
        for x, y, label in (("b", "c", "b/c (extauth / nginx)"), ("b", "a", "b/a (extauth / direct)"),
                            ("e", "d", "e/d (Envoy+extauth / Envoy direct)"),
                            ("g", "h", "g/h (extauth / nginx, auth service over TLS)"),
                            ("i", "b", "i/b (extauth cached / uncached)"),
                            ("i", "c", "i/c (extauth cached / nginx uncached)"),
                            ("i", "j", "i/j (extauth cached / nginx proxy_cache)")):
            if x in figs and y in figs:
                fx, fy = figs[x], figs[y]
                L.append(f"| {label} | {rfmt(ratio(fx['rps'], fy['rps']))} | {rfmt(ratio(fx['p50'], fy['p50']))} | "
                         f"{rfmt(ratio(fx['p99'], fy['p99']))} | {rfmt(ratio(fx['p99.9'], fy['p99.9']))} | "
                         f"{rfmt(ratio(fx['cpu_sat'], fy['cpu_sat']))} | {rfmt(ratio(fx['rss_kb'], fy['rss_kb']))} | "
                         f"{', '.join(rfmt(ratio(p, q)) for p, q in zip(fx['rps_rounds'], fy['rps_rounds']))} |")
        L.append("")

    L.extend(cpu_section(res, figs))

    targets = target_rows(res, figs)
    if targets:
        L.append("## Targets\n")
        L.append("| target | this run | met |")
        L.append("|---|---|---|")
        for t, got, ok in targets:
            L.append(f"| {t} | {got} | {'–' if ok is None else 'yes' if ok else '**no**'} |")
        L.append("")
        L.append("The profile of the check path, the fixes it led to with their figures before and after, "
                 "and why the CPU and latency targets stay out of reach with this stack: "
                 "[profile.md](profile.md).\n")

    if "f" in figs and "b" in figs:
        L.append("## One hot AuthConfig on every core (f)\n")
        L.append("All load goes to one AuthConfig. CPU use is extauth's CPU seconds over the run's wall time "
                 "(100% = one core); the threads are extauth's own threads, each with its CPU use, busiest "
                 "first (those above 2%, in the median round). On this machine the load generator and the "
                 "auth service share the same 2 cores, so 200% is out of reach: what tells is whether the "
                 "work spreads over threads and whether one thread sits at a full core.\n")
        L.append("| | b: `--workers " + str(res['knobs']['middle_workers']) + "` | f: `--workers 2` |")
        L.append("|---|---:|---:|")
        fb, ff = figs["b"], figs["f"]
        L.append(f"| throughput (req/s) | {fb['rps']:.0f} | {ff['rps']:.0f} |")
        L.append(f"| extauth CPU use | {fb['parts']['extauth']['util_sat'] * 100:.0f}% | {ff['parts']['extauth']['util_sat'] * 100:.0f}% |")
        L.append(f"| extauth CPU s per 1,000 req | {cpu_fmt(fb['cpu_sat'])} | {cpu_fmt(ff['cpu_sat'])} |")
        L.append(f"| busiest threads | {threads_fmt(fb)} | {threads_fmt(ff)} |")
        L.append(f"| p99 at {res['rate']} req/s (ms) | {ms(fb['p99'])} | {ms(ff['p99'])} |")
        L.append("")
        L.append(hot_verdict(figs) + "\n")

    if res.get("scale"):
        L.append("## Memory and reload at scale\n")
        L.append("Each AuthConfig with its own VirtualService (one file each, `tenant-NNNNN.yaml`), all "
                 "calling an auth service of their own here, nginx `return 200` (1 worker) whose keep-alive "
                 "(300 s) outlives the test; extauth with its default workers (one per core), started afresh "
                 f"for each of {res['knobs']['rounds']} rounds (medians; the rounds in brackets). Ready: from "
                 "spawning the process to `/readyz` answering 200. Traffic: one check on each of up to 200 "
                 "AuthConfigs (a fifth of them at most) spread over the set, then wrk on one for a few "
                 "seconds. Reload: one file (another each round) is rewritten, written beside and renamed "
                 "over, so that its AuthConfig calls a path the auth service denies; the time runs until a "
                 "check on it answers 401, polled every 2 ms. The other AuthConfigs' actors are untouched "
                 "when their pooled connections to the auth service (seen in `/proc/net/tcp`) are still the "
                 "same sockets after the change, and the changed one's actor is replaced when its "
                 "connection is gone.\n")
        L.append("| AuthConfigs | ready (s) | RSS when ready (MB) | RSS after traffic (MB) | peak RSS (MB) | reload served after (s) | other actors' pooled connections kept | changed actor's connections closed |")
        L.append("|---:|---:|---:|---:|---:|---:|---|---|")
        for s in res["scale"]:
            n = "1 (the example config)" if s["configs"] == 1 else f"{s['configs']:,}"
            ready = f"{s['ready_s']:.3f} [{', '.join(format(r['ready_s'], '.3f') for r in s['rounds'])}]"
            if "reload_s" not in s:
                reload = kept = closed = "–"
            else:
                rounds = ", ".join("–" if t is None else format(t, ".3f") for t in s["reload_rounds"])
                reload = ("not served within 15 s" if s["reload_s"] is None else f"{s['reload_s']:.3f}") + f" [{rounds}]"
                kept = f"{s['pooled_conns_others_kept']} of {s['pooled_conns_others_before']}"
                closed = f"{s['changed_conns_dropped']} of {s['changed_conns_before']}"
            L.append(f"| {n} | {ready} | {mb(s['rss_ready_kb'])} | {mb(s['rss_after_kb'])} | "
                     f"{mb(s['peak_rss_kb'])} | {reload} | {kept} | {closed} |")
        L.append("")
        for s in res["scale"]:
            if "log_changes" in s:
                for name, change in zip(s["changed"], s["log_changes"]):
                    L.append(f"- {s['configs']:,} AuthConfigs, `{name}` rewritten: the next `got new config` "
                             f"line says `{trim(change)}`.")
        L.append("")

    if figs:
        L.append("## Latency distribution\n")
        L.append(f"At {res['rate']} req/s, every request of the {res['knobs']['rounds']} rounds pooled per scenario.\n")
        L.append("![latency per scenario](latency.png)\n")
    return "\n".join(L)


def us(x):
    """CPU s per 1,000 requests as µs per request."""
    return "–" if x is None else f"{x * 1e3:.1f}"


def us_signed(x):
    return "–" if x is None else f"{x * 1e3:+.1f}"


def split(figs: dict, key: str, part: str | None = None) -> dict | None:
    """user, sys and total CPU s per 1,000 requests of one middle process of a scenario."""
    if key not in figs or not figs[key]["parts"]:
        return None
    parts = figs[key]["parts"]
    p = parts[part] if part else next(iter(parts.values()))
    if p.get("user_sat") is None or p.get("sys_sat") is None:
        return None
    return {"user": p["user_sat"], "sys": p["sys_sat"], "total": p["cpu_sat"]}


def diff(x: dict, y: dict) -> dict:
    return {k: x[k] - y[k] for k in ("user", "sys", "total")}


def cpu_section(res: dict, figs: dict) -> list[str]:
    """Where the CPU of the middle goes: user and system time per request, next to the references."""
    c = split(figs, "c")
    rows = [key for key in ("c", "b", "r0", "r1", "r2", "f", "d", "e") if split(figs, key)]
    if not c or "b" not in rows:
        return []
    L = ["## Where extauth's CPU goes\n"]
    L.append(f"CPU per request of each middle process at saturation (medians of {res['knobs']['rounds']} "
             "rounds), split into user time (the process's own code) and system time (the kernel working for "
             "it: mostly sending and receiving on the loopback sockets and waiting in epoll). r0, r1 and r2 "
             "are the reference prototypes, not the product: actix-web alone, and actix-web forwarding "
             "with awc (the client extauth uses) or with hyper. User, system and total are each a median, so "
             "user + system may differ slightly from the total.\n")
    L.append("| scenario | process | user µs/req | sys µs/req | total µs/req | total ÷ nginx's (c) | "
             "throughput (req/s) | CPU use | peak RSS (MB) |")
    L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for key in rows:
        f = figs[key]
        for name, p in f["parts"].items():
            L.append(f"| {NAMES[key]} | {name} | {us(p['user_sat'])} | {us(p['sys_sat'])} | {us(p['cpu_sat'])} | "
                     f"{rfmt(ratio(p['cpu_sat'], c['total']))} | {f['rps']:.0f} | {p['util_sat'] * 100:.0f}% | "
                     f"{mb(p['rss_kb'])} |")
    L.append("")
    L.append(" ".join(cpu_sentences(figs, c)) + "\n")
    return L


def cpu_sentences(figs: dict, c: dict) -> list[str]:
    b = split(figs, "b")
    target = 0.8 * c["total"]
    out = [f"nginx (c) spends {us(c['sys'])} µs of system time per request out of {us(c['total'])} µs in all; "
           f"the target, 0.8 × nginx's total, is {us(target)} µs per request, and nginx's system time alone "
           f"is {c['sys'] / target * 100:.0f}% of it."]
    room = target - b["sys"]
    out.append(f"extauth (b) spends {us(b['user'])} µs user + {us(b['sys'])} µs system "
               f"({rfmt(ratio(b['total'], c['total']))} × nginx's total); "
               + (f"with its system time as it is, meeting the target leaves it {us(room)} µs of user time "
                  f"per request." if room > 0 else "its system time alone is above the target."))
    r0, r1, r2 = (split(figs, k) for k in ("r0", "r1", "r2"))
    if r0:
        out.append(f"actix-web alone (r0), answering without any upstream call, spends {us(r0['user'])} µs user "
                   f"+ {us(r0['sys'])} µs system per request.")
    for name, key, r in (("awc", "r1", r1), ("hyper", "r2", r2)):
        if r0 and r:
            d = diff(r, r0)
            over = "above" if r["total"] > target else "within"
            out.append(f"The call with {name} ({key} − r0): {us_signed(d['user'])} µs user and "
                       f"{us_signed(d['sys'])} µs system per request, {us_signed(d['total'])} µs in all; {key} "
                       f"in all is {rfmt(ratio(r['total'], c['total']))} × nginx's total, {over} the target.")
    if r1:
        d = diff(b, r1)
        out.append(f"extauth's own work around the same awc call (b − r1): {us_signed(d['user'])} µs user and "
                   f"{us_signed(d['sys'])} µs system per request, {us_signed(d['total'])} µs in all.")
    if r1 and r2:
        est = b["total"] - r1["total"] + r2["total"]
        out.append(f"With hyper's figures in place of awc's and extauth's own work unchanged (b − r1 + r2, an "
                   f"estimate, not a measurement): {us(est)} µs per request, {rfmt(ratio(est, c['total']))} × "
                   f"nginx's total.")
    return out


def trim(s: str, n: int = 300) -> str:
    s = s.replace("|", "\\|")
    return s if len(s) <= n else s[:n] + "…"


def auth_name(k: str) -> str:
    return {"nginx": "nginx `return 200` (1 worker)",
            "sample": "the sample auth service `http-passthrough-auth` (release)"}.get(k, k)


def threads_fmt(f: dict) -> str:
    rounds = f.get("threads") or []
    if not rounds:
        return "–"
    # the round whose busiest thread is the median one
    rounds = sorted(rounds, key=lambda t: t[0] if t else 0)
    t = rounds[len(rounds) // 2]
    return ", ".join(f"{x * 100:.0f}%" for x in t if x >= 0.02) or "–"


def hot_verdict(figs: dict) -> str:
    fb, ff = figs["b"], figs["f"]
    util = ff["parts"]["extauth"]["util_sat"]
    rounds = [t for t in (ff.get("threads") or []) if t]
    if not rounds:
        return ""
    busiest = statistics.median(t[0] for t in rounds)
    busy = statistics.median(sum(1 for x in t if x >= 0.2) for t in rounds)
    s = (f"With `--workers 2` extauth used {util * 100:.0f}% of a core in all, over {busy:g} thread(s) busier "
         f"than 20%; its busiest thread {busiest * 100:.0f}%. Throughput f/b: "
         f"{rfmt(ratio(ff['rps'], fb['rps']))}. ")
    if busiest >= 0.85:
        s += "One thread is close to a full core: it bounds the hot AuthConfig's throughput."
    elif busy >= 2:
        s += "The hot AuthConfig's work spreads over several threads, none of them saturated."
    else:
        s += "The work stays on one thread."
    return s


def target_rows(res: dict, figs: dict) -> list:
    rows = []
    if "b" in figs and "c" in figs:
        b, c = figs["b"], figs["c"]
        r = ratio(b["cpu_sat"], c["cpu_sat"])
        rows.append(("extauth CPU per request ≤ 0.8 × nginx's (saturated)",
                     f"{cpu_fmt(b['cpu_sat'])} vs {cpu_fmt(c['cpu_sat'])} s per 1,000 req: {rfmt(r)} ×", r is not None and r <= 0.8))
        rows.append((f"extauth p50 ≤ nginx p50 (at {res['rate']} req/s)", f"{ms(b['p50'])} vs {ms(c['p50'])} ms",
                     b["p50"] is not None and b["p50"] <= c["p50"]))
        rows.append((f"extauth p99 ≤ nginx p99 (at {res['rate']} req/s)", f"{ms(b['p99'])} vs {ms(c['p99'])} ms",
                     b["p99"] is not None and b["p99"] <= c["p99"]))
        r1 = figs.get("r1")
        if r1 is not None and r1["p50"] is not None:
            rows.append((f"(reference, not a target) actix-web + awc alone, r1, at {res['rate']} req/s",
                         f"p50 {ms(r1['p50'])} ms, p99 {ms(r1['p99'])} ms: {rfmt(ratio(r1['p50'], c['p50']))} and "
                         f"{rfmt(ratio(r1['p99'], c['p99']))} × nginx's", None))
    if all(k in figs for k in ("b", "c", "i", "j")):
        b, c, i, j = (figs[k] for k in ("b", "c", "i", "j"))
        r = ratio(i["rps"], b["rps"])
        rows.append(("cached throughput (i) ≥ 3 × uncached extauth (b)",
                     f"{i['rps']:.0f} vs {b['rps']:.0f} req/s: {rfmt(r)} ×", r is not None and r >= 3))
        r = ratio(i["cpu_sat"], c["cpu_sat"])
        rows.append(("cached CPU per check (i) ≤ 0.6 × nginx forwarding uncached (c)",
                     f"{cpu_fmt(i['cpu_sat'])} vs {cpu_fmt(c['cpu_sat'])} s per 1,000 req: {rfmt(r)} ×",
                     r is not None and r <= 0.6))
        r = ratio(i["cpu_sat"], j["cpu_sat"])
        rows.append(("cached CPU per check (i) ≤ 1.0 × nginx with proxy_cache (j)",
                     f"{cpu_fmt(i['cpu_sat'])} vs {cpu_fmt(j['cpu_sat'])} s per 1,000 req: {rfmt(r)} ×",
                     r is not None and r <= 1.0))
        r0 = figs.get("r0")
        if r0 is not None:
            rows.append(("(not a target) the ceiling: actix-web answering 200 by itself (r0), against b",
                         f"{r0['rps']:.0f} req/s: {rfmt(ratio(r0['rps'], b['rps']))} × b's throughput; "
                         f"{cpu_fmt(r0['cpu_sat'])} s per 1,000 req: {rfmt(ratio(r0['cpu_sat'], c['cpu_sat']))} × "
                         f"nginx's (c)", None))
        rows.append(("(not a target) nginx with proxy_cache (j) against nginx uncached (c)",
                     f"throughput {rfmt(ratio(j['rps'], c['rps']))} ×, CPU per check "
                     f"{rfmt(ratio(j['cpu_sat'], c['cpu_sat']))} ×", None))
    if "d" in figs and "e" in figs:
        r = ratio(figs["e"]["rps"], figs["d"]["rps"])
        rows.append(("throughput e ≥ 0.85 × d", f"{figs['e']['rps']:.0f} vs {figs['d']['rps']:.0f} req/s: {rfmt(r)} ×",
                     r is not None and r >= 0.85))
    for s in res.get("scale", []):
        n = s["configs"]
        if n == 1:
            rows.append(("RSS ≤ 20 MB with the example config (peak, after traffic)", f"{mb(s['peak_rss_kb'])} MB",
                         s["peak_rss_kb"] <= 20 * 1024))
        if n == 10000:
            rows.append(("RSS ≤ 150 MB with 10,000 AuthConfigs (peak, after traffic)", f"{mb(s['peak_rss_kb'])} MB",
                         s["peak_rss_kb"] <= 150 * 1024))
            rows.append(("10,000 AuthConfigs loaded in ≤ 2 s (start to ready)", f"{s['ready_s']:.3f} s", s["ready_s"] <= 2))
            ok = s.get("reload_s") is not None and s["reload_s"] <= 1
            rows.append(("one file among 10,000 rewritten → new behaviour served in ≤ 1 s",
                         "not served" if s.get("reload_s") is None else f"{s['reload_s']:.3f} s", ok))
            kept = s["pooled_conns_others_kept"] == s["pooled_conns_others_before"]
            rows.append(("…with the other actors untouched",
                         f"{s['pooled_conns_others_kept']} of {s['pooled_conns_others_before']} pooled connections kept",
                         kept))
    return rows


def latencies(out: Path, key: str) -> list[float]:
    xs = []
    for f in sorted(out.glob(f"lat-{key}-*.csv")):
        with open(f) as fh:
            for row in csv.DictReader(fh):
                if row["status"] == "200":
                    xs.append(float(row["request-duration"]) * 1e3)
    xs.sort()
    return xs


def plot(res: dict, out: Path, dest: Path, figs: dict) -> None:
    if not res.get("latency"):
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5.2))
    for key in res["latency"]:
        xs = latencies(out, key)
        if not xs:
            continue
        n = len(xs)
        label = NAMES[key]
        # CDF
        step = max(1, n // 2000)
        ys = [(i + 1) / n for i in range(0, n, step)]
        ax1.plot(xs[::step], ys, label=label)
        # percentile spectrum: x = number of nines
        nines, lat = [], []
        for j in range(0, 400):
            p = 1 - 10 ** (-j / 100)
            i = min(n - 1, int(math.ceil(p * n)) - 1)
            nines.append(j / 100)
            lat.append(xs[max(0, i)])
            if p * n > n - 1:
                break
        ax2.plot(nines, lat, label=label)
    ax1.set_xscale("log")
    ax1.set_xlabel("latency (ms, log scale)")
    ax1.set_ylabel("fraction of requests")
    ax1.set_title("CDF")
    ax1.grid(True, which="both", alpha=0.3)
    ax2.set_yscale("log")
    ax2.set_xticks([0, 1, 2, 3, 4])
    ax2.set_xticklabels(["p0", "p90", "p99", "p99.9", "p99.99"])
    ax2.set_xlim(0, 4)
    ax2.set_xlabel("percentile")
    ax2.set_ylabel("latency (ms, log scale)")
    ax2.set_title("latency by percentile")
    ax2.grid(True, which="both", alpha=0.3)
    ax2.legend(fontsize=8, loc="upper left")
    fig.suptitle(f"extauth bench, {res['started'][:10]}: latency at {res['rate']} req/s, "
                 f"{res['knobs']['connections']} connections, {res['knobs']['rounds']} rounds pooled")
    fig.tight_layout()
    fig.savefig(dest, dpi=110)
    plt.close(fig)


def update_readme(readme: Path, res: dict, figs: dict) -> None:
    text = readme.read_text()
    if README_BEGIN not in text or README_END not in text:
        return
    m = res["machine"]
    rows = [f"Latest figures ({res['started'][:10]}; {m['cores']} cores, {m['memory_gib']:g} GiB, {m['cpu']}); "
            f"medians of {res['knobs']['rounds']} rounds, latency at {res['rate']} req/s, all on one machine:",
            "",
            "| scenario | throughput (req/s) | p50 (ms) | p99 (ms) | CPU s per 1,000 req of the middle | peak RSS of the middle (MB) |",
            "|---|---:|---:|---:|---:|---:|"]
    for key in ("a", "b", "c", "d", "e", "g", "h", "r1"):
        if key in figs:
            f = figs[key]
            rows.append(f"| {NAMES[key]} | {f['rps']:.0f} | {ms(f['p50'])} | {ms(f['p99'])} | "
                        f"{cpu_fmt(f['cpu_sat'])} | {mb(f['rss_kb'])} |")
    b, c, r1 = split(figs, "b"), split(figs, "c"), split(figs, "r1")
    if b and c:
        rows.append("")
        rows.append(f"CPU per request of the middle at saturation, user + system time: extauth {us(b['user'])} + "
                    f"{us(b['sys'])} µs, nginx {us(c['user'])} + {us(c['sys'])} µs"
                    + (f", actix-web + awc alone (r1, a reference prototype with no extauth logic) "
                       f"{us(r1['user'])} + {us(r1['sys'])} µs" if r1 else "") + ".")
    targets = [(t, ok) for t, _, ok in target_rows(res, figs) if ok is not None]
    if targets:
        missed = [t for t, ok in targets if not ok]
        rows.append("")
        rows.append(f"Targets met: {len(targets) - len(missed)} of {len(targets)}"
                    + (f"; missed: {'; '.join(missed)}." if missed else ".")
                    + (" Why: [bench/profile.md](bench/profile.md)." if missed else ""))
    for s in res.get("scale", []):
        if s["configs"] == 10000:
            reload = "–" if s.get("reload_s") is None else f"{s['reload_s']:.3f}"
            rows.append("")
            rows.append(f"10,000 AuthConfigs: ready in {s['ready_s']:.2f} s, peak RSS {mb(s['peak_rss_kb'])} MB; "
                        f"one file rewritten among them is served in {reload} s.")
    rows.append("")
    rows.append("Method, every figure, ratios and targets: [bench/results.md](bench/results.md).")
    block = README_BEGIN + "\n" + "\n".join(rows) + "\n" + README_END
    text = re.sub(re.escape(README_BEGIN) + ".*?" + re.escape(README_END), lambda _: block, text, flags=re.S)
    readme.write_text(text)


if __name__ == "__main__":
    # re-render from a run's raw results: report.py bench/out/STAMP
    import json
    import sys

    run_dir = Path(sys.argv[1]).resolve()
    bench_dir = Path(__file__).resolve().parent
    write(json.loads((run_dir / "results.json").read_text()), run_dir, bench_dir, readme=None)
