#!/usr/bin/env python3
"""Limits under load, measured on the real binary (not part of the test suite):

  cardinality  a million distinct capability values streamed through serve:
               resident memory over time, the series kept and the updates
               dropped, and the time of a scrape while it happens.
  soak         steady appends with a rotation every 10 s, kill -9 every 2
               minutes (restarted from its state file) and a scrape every
               second: resident memory after warm-up, counters never seen
               going down, final counts equal to what was written.

  python3 bench/limits.py cardinality [--values 1000000]
  python3 bench/limits.py soak [--minutes 30]

The binary is build-release/ailog_exporter, or $AILOG_EXPORTER.
"""

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
os.environ.setdefault("AILOG_EXPORTER", os.path.join(ROOT, "build-release", "ailog_exporter"))
from harness import parse_exposition, value  # noqa: E402

CAPS = ["summarize", "classify", "extract", "chat"]


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        m = re.search(r"VmRSS:\s+(\d+) kB", f.read())
    return int(m.group(1)) / 1024 if m else 0.0


class Serve:
    def __init__(self, args):
        self.stderr = tempfile.NamedTemporaryFile(prefix="ailog-limits-", suffix=".log", delete=False)
        self.proc = subprocess.Popen([os.environ["AILOG_EXPORTER"], "serve", "--web.listen-address", "127.0.0.1:0",
                                      *args], stdout=subprocess.DEVNULL, stderr=self.stderr)
        deadline = time.monotonic() + 30
        while True:
            with open(self.stderr.name) as f:
                m = re.search(r"address=([0-9.]+:[0-9]+)", f.read())
            if m:
                self.base = f"http://{m.group(1)}"
                return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"serve did not start: {open(self.stderr.name).read()[-2000:]}")
            time.sleep(0.02)

    def scrape(self, timeout=10):
        """(status, seconds, samples)."""
        start = time.monotonic()
        try:
            with urllib.request.urlopen(self.base + "/metrics", timeout=timeout) as r:
                body = r.read().decode()
                return r.status, time.monotonic() - start, parse_exposition(body)
        except urllib.error.HTTPError as e:
            return e.code, time.monotonic() - start, {}

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)


def entry(kind, rid, cap, ts="2025-06-01T12:00:00.000Z"):
    if kind == "start":
        return ('{"message":"executeParse - start","requestId":"%s","capability":"%s","operation":"core",'
                '"timestamp":"%s"}\n' % (rid, cap, ts))
    return ('{"message":"executeParse - succeeded","requestId":"%s","capability":"%s","operation":"core",'
            '"timestamp":"%s","result":{"durationMs":120,"usage":{"tokens":{"input":10,"output":3}}}}\n'
            % (rid, cap, ts))


def cardinality(args):
    tmp = tempfile.mkdtemp(prefix="ailog-cardinality-")
    log = os.path.join(tmp, "app.log")
    open(log, "w").close()
    e = Serve(["--correlation.max-age", "100000d", log])
    rows = []
    try:
        written = 0
        batch = 20000
        with open(log, "a") as f:
            while written < args.values:
                f.write("".join(entry("succeeded", f"r{i}", f"cap-{i}") for i in range(written, written + batch)))
                f.flush()
                written += batch
                # Pace to the reader: a scrape while it reads, then the figures.
                status, took, s = e.scrape()
                while value(s, "ailog_exporter_lines_read_total", default=0) < written:
                    status, took, s = e.scrape()
                if written % 100000 == 0 or written == args.values:
                    series = sum(1 for k in s if k[0] == "openai_api_requests_total")
                    dropped = sum(v for k, v in s.items() if k[0] == "ailog_exporter_series_dropped_total")
                    times = [e.scrape()[1] for _ in range(10)]
                    rows.append((written, rss_mib(e.proc.pid), series, dropped, statistics.median(times) * 1000,
                                 max(times) * 1000))
                    print(f"{written:>9} values: RSS {rows[-1][1]:.1f} MiB, requests series {series}, "
                          f"dropped updates {dropped:.0f}, scrape median {rows[-1][4]:.1f} ms, max {rows[-1][5]:.1f} ms",
                          flush=True)
    finally:
        e.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print("\n| distinct values | RSS | `openai_api_requests_total` series | updates dropped | scrape median | scrape max |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r[0]:,} | {r[1]:.1f} MiB | {r[2]:,} | {r[3]:,.0f} | {r[4]:.1f} ms | {r[5]:.1f} ms |")


def soak(args):
    tmp = tempfile.mkdtemp(prefix="ailog-soak-")
    logs = os.path.join(tmp, "logs")
    os.mkdir(logs)
    state = os.path.join(tmp, "state.json")
    path = os.path.join(logs, "app.log")
    open(path, "w").close()
    serve_args = ["--start-at", "beginning", "--correlation.max-age", "100000d", "--state.file", state,
                  "--state.interval", "1s", logs]
    truth = {"lines": 0, "succeeded": {c: 0 for c in CAPS}}
    stop = threading.Event()
    lock = threading.Lock()

    def writer():
        i = 0
        last_rotation = time.monotonic()
        while not stop.is_set():
            with open(path, "a") as f:
                for _ in range(args.rate // 10):
                    cap = CAPS[i % len(CAPS)]
                    f.write(entry("start", f"s{i}", cap) + entry("succeeded", f"s{i}", cap))
                    with lock:
                        truth["lines"] += 2
                        truth["succeeded"][cap] += 1
                    i += 1
            if time.monotonic() - last_rotation >= 10:
                # logrotate's way, keeping two: .2 goes, .1 becomes .2, the file .1, a new one is created.
                if os.path.exists(path + ".2"):
                    os.unlink(path + ".2")
                if os.path.exists(path + ".1"):
                    os.rename(path + ".1", path + ".2")
                os.rename(path, path + ".1")
                open(path, "w").close()
                last_rotation = time.monotonic()
            time.sleep(0.1)

    e = Serve(serve_args)
    w = threading.Thread(target=writer, daemon=True)
    w.start()
    start = time.monotonic()
    next_kill = start + 120
    seen = {}
    decreases, scrapes, unavailable, kills = 0, 0, 0, 0
    rss = []
    try:
        while time.monotonic() - start < args.minutes * 60:
            time.sleep(1)
            if time.monotonic() >= next_kill:
                e.stop(signal.SIGKILL)
                kills += 1
                e = Serve(serve_args)
                next_kill += 120
            status, _, s = e.scrape()
            if status != 200:
                unavailable += 1
                continue
            scrapes += 1
            for k, v in s.items():
                # process_* belong to one process and restart with it, by convention.
                if k[0].startswith("process_"):
                    continue
                if k[0].endswith("_total") or k[0].endswith("_count") or k[0].endswith("_bucket"):
                    if k in seen and v < seen[k]:
                        decreases += 1
                        print(f"decrease: {k[0]}{dict(k[1])} {seen[k]} -> {v}", flush=True)
                    seen[k] = v
            rss.append((time.monotonic() - start, rss_mib(e.proc.pid)))
        stop.set()
        w.join()
        deadline = time.monotonic() + 120
        while True:
            status, _, s = e.scrape()
            if status == 200 and value(s, "ailog_exporter_lines_read_total", default=0) >= truth["lines"]:
                break
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
        got = {c: value(s, "openai_api_requests_total", capability=c, operation="core", status="success",
                        default=0) for c in CAPS}
        exact = got == truth["succeeded"] and value(s, "ailog_exporter_lines_read_total") == truth["lines"]
    finally:
        stop.set()
        e.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    warm = [r for t, r in rss if t > 60]
    print(f"{args.minutes} minutes, {args.rate} calls/s, rotation every 10 s: {kills} kill -9, {scrapes} scrapes "
          f"({unavailable} answered 503 while catching up), {decreases} counter decreases seen")
    if warm:
        print(f"RSS after the first minute: min {min(warm):.1f} MiB, median {statistics.median(warm):.1f} MiB, "
              f"max {max(warm):.1f} MiB; last 5 minutes max {max(r for t, r in rss if t > rss[-1][0] - 300):.1f} MiB")
    print(f"final counts {'exact' if exact else 'WRONG'}: lines {truth['lines']}, succeeded {truth['succeeded']}, "
          f"served {got}")
    return 0 if exact and decreases == 0 else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    c = sub.add_parser("cardinality")
    c.add_argument("--values", type=int, default=1000000)
    s = sub.add_parser("soak")
    s.add_argument("--minutes", type=float, default=30)
    s.add_argument("--rate", type=int, default=500, help="calls per second (two lines each)")
    args = ap.parse_args()
    return cardinality(args) if args.what == "cardinality" else soak(args)


if __name__ == "__main__":
    sys.exit(main() or 0)
