#!/usr/bin/env python3
"""/metrics in both formats, and the exemplars OpenMetrics carries.

The exporter tails a generated log with the built-in mapping. A scrape that
asks for nothing gets text 0.0.4 without exemplars, which promtool accepts.
A scrape with Prometheus's Accept header gets OpenMetrics 1.0.0, which the
strict OpenMetrics parser of the Python client (Debian's
python3-prometheus-client) accepts, with the same samples as the text.
Every exemplar is checked against the log, read here on its own: each
histogram bucket's names the request of the latest end entry (in the log's
order) whose duration fell in that bucket of that series, with that duration
and the entry's timestamp; each counter's names the latest end entry of its
series, with the increase it made.

Usage: AILOG_EXPORTER=build/ailog_exporter python3 tests/e2e/test_openmetrics.py [test_name ...]
"""

import gzip
import json
import math
import os
import shutil
import sys
import tempfile
from datetime import datetime

from harness import Exporter, generate, parse_exposition, promtool_problems, run_tests

try:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
except ImportError:  # a Python of its own, beside Debian's python3-prometheus-client
    sys.path.append("/usr/lib/python3/dist-packages")
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

PROMETHEUS_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
                     "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
BUCKETS = [10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, math.inf]
SUCCEEDED, FAILED, START = "executeParse - succeeded", "executeParse - failed", "executeParse - start"


def epoch_s(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def latest_updates(path):
    """What the log says the exemplars must be: {(series key, bucket index or
    None for the requests counter): (request id, value, time s)}, the latest
    update of each."""
    starts = {}
    latest = {}
    with open(path) as f:
        for line in f:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if not isinstance(e, dict):
                continue
            msg = e.get("message")
            if not isinstance(msg, str) or not isinstance(e.get("capability"), str) or \
                    not isinstance(e.get("operation"), str):
                continue
            kind = next((k for k in (START, SUCCEEDED, FAILED) if msg == k or msg.startswith(k + " ")), None)
            if kind is None:
                continue
            rid, t = e.get("requestId"), epoch_s(e["timestamp"])
            if kind == START:
                starts[rid] = t
                continue
            start = starts.pop(rid, None)
            status = "success" if kind == SUCCEEDED else "failure"
            labels = frozenset({"capability": e["capability"], "operation": e["operation"], "status": status}.items())
            latest[(labels, None)] = (rid, 1.0, t)
            d = (e.get("result") or {}).get("durationMs") if isinstance(e.get("result"), dict) else None
            if isinstance(d, (int, float)) and not isinstance(d, bool):
                ms = float(d)
            elif start is not None:
                ms = float(round(t * 1000) - round(start * 1000))  # the log's times are in ms
            else:
                continue
            bucket = next(i for i, le in enumerate(BUCKETS) if ms <= le)
            latest[(labels, bucket)] = (rid, ms, t)
    return latest


def test_text_and_openmetrics():
    tmp = tempfile.mkdtemp(prefix="ailog-om-")
    try:
        log = os.path.join(tmp, "app.log")
        expected = generate(log, log + ".json", "--lines", 6000, "--noise", 0, "--flavour", "winston", "--seed", 41)
        with Exporter(["--start-at", "beginning", log]) as e:
            e.wait_for_lines(expected["lines"])
            status, headers, body = e.get("/metrics")
            assert status == 200
            assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8", headers
            text = body.decode()
            assert " # {" not in text and "# EOF" not in text
            assert promtool_problems(text) == []

            status, headers, body = e.get("/metrics", {"Accept": PROMETHEUS_ACCEPT, "Accept-Encoding": "gzip"})
            assert status == 200
            assert headers["Content-Type"] == "application/openmetrics-text; version=1.0.0; charset=utf-8", headers
            assert headers["Content-Encoding"] == "gzip" and headers["Vary"] == "Accept, Accept-Encoding", headers
            om = gzip.decompress(body).decode()
            assert om.endswith("\n# EOF\n")
            families = list(text_string_to_metric_families(om))
    finally:
        pass

    try:
        # The same samples in both formats (the log no longer grows).
        om_samples = {(s.name, frozenset(s.labels.items())): float(s.value) for f in families for s in f.samples}
        text_samples = parse_exposition(text)
        moving = {"process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds"}
        differ = [k for k in set(om_samples) | set(text_samples)
                  if k[0] not in moving and om_samples.get(k) != text_samples.get(k)]
        assert not differ, f"{len(differ)} samples differ between the formats, e.g. {sorted(differ)[:3]}"
        by_type = {f.name: f.type for f in families}
        assert by_type["openai_api_requests"] == "counter" and by_type["openai_api_request_duration_ms"] == "histogram"

        want = latest_updates(log)
        got = {}
        for f in families:
            for s in f.samples:
                if s.exemplar is None:
                    continue
                assert set(s.exemplar.labels) == {"request_id"}, s
                labels = {k: v for k, v in s.labels.items() if k != "le"}
                ts = s.exemplar.timestamp.sec + s.exemplar.timestamp.nsec / 1e9
                if s.name == "openai_api_request_duration_ms_bucket":
                    le = float(s.labels["le"])
                    got[(frozenset(labels.items()), BUCKETS.index(le))] = (s.exemplar.labels["request_id"],
                                                                          s.exemplar.value, ts)
                elif s.name == "openai_api_requests_total":
                    got[(frozenset(labels.items()), None)] = (s.exemplar.labels["request_id"], s.exemplar.value, ts)
                else:
                    assert s.name in ("openai_api_tokens_total", "openai_api_request_errors_total"), s.name
        assert len(want) > 100, len(want)
        problems = []
        for key in set(want) | set(got):
            w, g = want.get(key), got.get(key)
            if w is None or g is None or w[0] != g[0] or not math.isclose(w[1], g[1], rel_tol=1e-9) or \
                    abs(w[2] - g[2]) > 1e-3:
                problems.append(f"{dict(key[0])} bucket {key[1]}: served {g}, the log says {w}")
        assert not problems, f"{len(problems)} exemplars wrong:\n" + "\n".join(sorted(problems)[:10])
        print(f"     {len(got)} exemplars, each the latest update of its bucket or counter")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_text_unless_openmetrics_ranks_first():
    tmp = tempfile.mkdtemp(prefix="ailog-om-")
    try:
        log = os.path.join(tmp, "app.log")
        expected = generate(log, log + ".json", "--lines", 500, "--seed", 7)
        with Exporter(["--start-at", "beginning", log]) as e:
            e.wait_for_lines(expected["lines"])
            for accept, om in (("text/plain;version=0.0.4", False), ("*/*", False),
                               ("application/openmetrics-text;q=0.2,text/plain;q=0.5", False),
                               ("application/openmetrics-text;version=9.9.9", False),
                               ("application/openmetrics-text; version=0.0.1", True),
                               ("text/plain;q=0.1,application/openmetrics-text;q=0.9", True)):
                status, headers, body = e.get("/metrics", {"Accept": accept})
                assert status == 200
                got = headers["Content-Type"].startswith("application/openmetrics-text")
                assert got == om, f"Accept: {accept}: {headers['Content-Type']}"
                assert body.decode().endswith("# EOF\n") == om
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_tests([test_text_and_openmetrics, test_text_unless_openmetrics_ranks_first])
