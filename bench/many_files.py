#!/usr/bin/env python3
"""Replay of histories made of many files, on the real binary (not part of
the test suite): wall time and peak resident memory, for N pod logs that
follow one another in time (pods that came
and went: a few overlap at any moment) and, for comparison, for N pod logs
that all span the same hours.

  python3 bench/many_files.py [--files 20,200,2000] [--lines 120000] [--threads 1,2]

One corpus of --lines lines (samples/generate.py, the mixed flavour) is cut
into N files, each call kept in one file:
  staggered  file k holds the calls that start in the k-th slice of the
             history (its lines consecutive in time);
  overlapping  calls dealt round the files: every file spans the whole
             history.
Every replay's figures are compared with the generator's. The binary is
build-release/ailog_exporter, or $AILOG_EXPORTER.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
os.environ.setdefault("AILOG_EXPORTER", os.path.join(ROOT, "build-release", "ailog_exporter"))
from harness import binary, compare, deal_calls, generate, parse_exposition  # noqa: E402


def write_pods(lines, files, layout, out):
    for k, content in enumerate(deal_calls(lines, files, staggered=layout == "staggered")):
        d = os.path.join(out, f"ai_pod-{k}_{k:08x}", "app")
        os.makedirs(d)
        with open(os.path.join(d, "0.log"), "wb") as f:
            f.write(b"".join(content))


def measure(args):
    """(wall s, peak RSS MiB, stdout) of one replay. The peak RSS is GNU
    time's: a child of this process would count the memory it shared with
    it before exec."""
    start = time.monotonic()
    with tempfile.NamedTemporaryFile() as rss_file:
        r = subprocess.run(["/usr/bin/time", "-q", "-f", "%M", "-o", rss_file.name] + args, capture_output=True)
        wall = time.monotonic() - start
        if r.returncode != 0:
            raise SystemExit(f"replay failed: {r.stderr.decode()}")
        return wall, int(open(rss_file.name).read().split()[-1]) / 1024, r.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", default="20,200,2000")
    ap.add_argument("--lines", type=int, default=120000)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--layouts", default="staggered,overlapping")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="ailog-many-")
    try:
        corpus = os.path.join(tmp, "all.log")
        expected = generate(corpus, corpus + ".json", "--flavour", "mixed", "--seed", 5, "--lines", a.lines)
        with open(corpus, "rb") as f:
            lines = f.read().split(b"\n")[:-1]
        print(f"binary: {binary()}; corpus: {a.lines} lines, {os.path.getsize(corpus)} bytes\n")
        print("| layout | files | --threads | wall | peak RSS |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for layout in a.layouts.split(","):
            for n in (int(x) for x in a.files.split(",")):
                pods = os.path.join(tmp, f"{layout}-{n}")
                write_pods(lines, n, layout, pods)
                for threads in a.threads.split(","):
                    wall, rss, out = measure([binary(), "replay", "-q", "--output", "prometheus",
                                                   "--correlation.max-age", "100000d", "--threads", threads, os.path.join(pods, "*", "*", "0.log")])
                    problems = compare(parse_exposition(out.decode()), expected)
                    if problems:
                        raise SystemExit(f"{layout} {n} files, --threads {threads}: " + "\n".join(problems[:10]))
                    print(f"| {layout} | {n} | {threads} | {wall:.2f} s | {rss:.1f} MiB |", flush=True)
                shutil.rmtree(pods)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
