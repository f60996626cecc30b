"""Smoke run of the benchmark harness (bench/bench.py --quick) on tiny corpora, so that it does
not rot: it must run every measurement, exit 0, and find the exporter's output exact. No time
is asserted: the figures of a quick run mean nothing."""

import os
import re
import shutil
import subprocess
import sys
import tempfile

from harness import ROOT, binary, run_tests


def test_bench_quick():
    tmp = tempfile.mkdtemp(prefix="ailog-bench-smoke-")
    try:
        md = os.path.join(tmp, "results.md")
        r = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "bench.py"), "--quick", "--no-install",
                            "--cache-dir", os.path.join(tmp, "corpora"), "--markdown", md],
                           env=dict(os.environ, AILOG_EXPORTER=binary()), capture_output=True, text=True,
                           timeout=240, stdin=subprocess.DEVNULL)
        out = r.stdout + r.stderr
        assert r.returncode == 0, f"bench.py --quick exited with {r.returncode}:\n{out[-4000:]}"
        assert re.search(r"^  exactness single-file replay: OK$", out, re.M), out[-4000:]
        assert not re.search(r"exactness .*MISMATCH", out), out[-4000:]
        for section in ("== single-file replay", "== flavours", "== multi-file replay", "== live tailing",
                        "== /metrics render time", "== idle", "== summary"):
            assert section in out, f"{section!r} missing from the output:\n{out[-4000:]}"
        with open(md) as f:
            text = f.read()
        assert "| ailog_exporter |" in text and "Machine:" in text and "Command:" in text, text
        assert re.search(r"^\| \d+ processes at once, one thread each \| \d", text, re.M), text
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_tests([test_bench_quick])
