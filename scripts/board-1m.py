#!/usr/bin/env python3
"""The 1,000,000-task board benchmark (issue 12, must-show 5): memory and
start-up at scale, measured on the release binary (`make bench-board`).

1. `baton serve` on a fresh data dir (127.0.0.1, port 0); add N small tasks
   over REST in batches of 10,000; the kernel's high-water mark (VmHWM) at
   the end is the peak RSS while adding.
2. SIGTERM, restart on the same dir: time from spawn to `/readyz` 200, and
   the RSS once ready; `--restarts` times (default 3), since one restart
   time on a noisy machine says little.
3. After the first restart, `GET /api/available-tasks` (the compat route
   that lists every ready task): time and size of the answer.

Standard library only; prints one JSON object (and a human summary on stderr).
Usage: scripts/board-1m.py [--tasks N] [--restarts N] [--keep | --reuse DIR]
       [--baton target/release/baton] [--wrap heaptrack] [--engine redb|fjall|sled]

`--engine` sets `BATON_STORAGE__BACKEND` for a new data dir (a reused one
keeps the engine it records).
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


WRAP = []
ENGINE = []


def start(baton, data):
    env = dict(os.environ)
    if ENGINE:
        env["BATON_STORAGE__BACKEND"] = ENGINE[0]
    env.update({
        "RUST_LOG": "warn",
        "BATON_MCP__ENABLED": "false",
        "BATON_TASKS__MAX_BATCH": "10000",
        "BATON_API__MAX_BODY_BYTES": str(64 << 20),
    })
    started = time.monotonic()
    p = subprocess.Popen(WRAP + [baton, "serve", "--bind", "127.0.0.1:0", "--data-dir", data],
                         stdout=subprocess.PIPE, stderr=sys.stderr, env=env, text=True)
    for line in p.stdout:
        m = re.match(r"baton listening on (\S+)", line)
        if m:
            # keep draining stdout so the child never blocks on a full pipe
            threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
            return p, m.group(1), started
    raise SystemExit("baton exited before listening")


def request(method, url, body=None, timeout=600):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read()


def wait_ready(url, deadline):
    while time.monotonic() < deadline:
        try:
            if request("GET", url + "/readyz", timeout=5)[0] == 200:
                return True
        except OSError:
            pass
        time.sleep(0.01)
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--baton", default="target/release/baton")
    ap.add_argument("--restarts", type=int, default=3,
                    help="restart this many times (SIGTERM between); each restart-to-ready time is reported")
    ap.add_argument("--reuse", default="", help="an existing data dir (kept): skip adding, only restart")
    ap.add_argument("--skip-list", action="store_true", help="do not request /api/available-tasks (profiling a restart)")
    ap.add_argument("--keep", action="store_true", help="keep the data dir and print its path")
    ap.add_argument("--wrap", default="", help="run baton under this command (e.g. heaptrack); RSS figures are then the wrapper's")
    ap.add_argument("--engine", default="", help="the embedded engine of a new data dir: redb, fjall or sled")
    args = ap.parse_args()
    WRAP.extend(args.wrap.split())
    if args.engine:
        ENGINE.append(args.engine)
    data = args.reuse or tempfile.mkdtemp(prefix="baton-1m-")
    out = {"tasks": args.tasks, "batch": args.batch, "engine": args.engine or "default"}
    try:
        if not args.reuse:
            add(args, data, out)
        restarts = []
        for i in range(max(1, args.restarts)):
            p, url, started = start(args.baton, data)
            assert wait_ready(url, time.monotonic() + 300), "not ready"
            restarts.append(round(time.monotonic() - started, 2))
            if i == 0:
                out["rss_after_restart_mib"] = round(rss_kib(p.pid) / 1024)
            if i == 0 and not args.skip_list:
                t0 = time.monotonic()
                status, body = request("GET", url + "/api/available-tasks")
                out["available_tasks_secs"] = round(time.monotonic() - t0, 2)
                out["available_tasks_mib"] = round(len(body) / 2**20, 1)
                out["peak_rss_after_restart_mib"] = round(rss_kib(p.pid, "VmHWM") / 1024)
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=120)
        out["restart_to_ready_secs"] = restarts
    finally:
        if args.keep or args.reuse:
            print(f"data dir kept: {data}", file=sys.stderr)
        else:
            shutil.rmtree(data, ignore_errors=True)
    print(json.dumps(out))
    for k, v in out.items():
        print(f"  {k}: {v}", file=sys.stderr)


def add(args, data, out):
    """Add the tasks on a fresh server; record the time, peak RSS and size on disk; stop it."""
    p, url, _ = start(args.baton, data)
    t0 = time.monotonic()
    for start_id in range(0, args.tasks, args.batch):
        n = min(args.batch, args.tasks - start_id)
        tasks = [{"id": f"t{start_id + i:07d}", "title": "t"} for i in range(n)]
        status, _ = request("POST", url + "/api/v1/tasks", {"tasks": tasks})
        assert status == 201, status
    out["add_secs"] = round(time.monotonic() - t0, 2)
    out["peak_rss_adding_mib"] = round(rss_kib(p.pid, "VmHWM") / 1024)
    out["rss_after_adding_mib"] = round(rss_kib(p.pid) / 1024)
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=120)
    out["disk_mib"] = round(sum(os.path.getsize(os.path.join(d, f))
                                for d, _, fs in os.walk(data) for f in fs) / 2**20)

if __name__ == "__main__":
    main()
