"""Shared helpers for the end-to-end tests: start the real ailog_exporter,
scrape it over HTTP, parse the exposition, compare with the corpus
generator's expected figures, lint with the real promtool."""

import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
GENERATOR = os.path.join(ROOT, "samples", "generate.py")


def binary():
    path = os.environ.get("AILOG_EXPORTER")
    if not path or not os.path.exists(path):
        sys.exit("AILOG_EXPORTER must point at the built binary")
    return path


def free_port():
    """A port free right now on 127.0.0.1 (for a peer that must listen on a known port)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_until(predicate, timeout=20.0, interval=0.02, what="condition"):
    """Polls predicate() until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as e:  # the server may not answer yet
            last_error = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}"
                         + (f" (last error: {last_error})" if last_error else ""))


NOBODY = 65534


def unprivileged():
    """The command prefix that runs a program as an unprivileged user (nobody,
    without groups) when this process is root, for whom file permissions do
    not apply; empty otherwise (the tests already run unprivileged)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise AssertionError("running as root needs setpriv (Debian package util-linux) to drop privileges")
    return [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


def give_to_unprivileged(path):
    """Makes path owned by the user unprivileged() runs as (a no-op when not root)."""
    if os.geteuid() == 0:
        os.chown(path, NOBODY, NOBODY)


class Exporter:
    """The real binary on 127.0.0.1 with a port chosen by the kernel.
    `prefix` goes before the binary on the command line (e.g. unprivileged())."""

    def __init__(self, args, stdin=None, listen="127.0.0.1:0", prefix=()):
        self.tmp = tempfile.mkdtemp(prefix="ailog-e2e-")
        self.stderr_path = os.path.join(self.tmp, "stderr.log")
        self._stderr = open(self.stderr_path, "wb")
        cmd = list(prefix) + [binary(), "serve", "--web.listen-address", listen] + list(args)
        self.proc = subprocess.Popen(cmd, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self._stderr)
        self.address = wait_until(self._find_address, what="the listening address in the log")
        self.base = f"http://{self.address}"

    def _find_address(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"exporter exited with {self.proc.returncode}: {self.stderr()}")
        m = re.search(r"address=([0-9.]+:[0-9]+)", self.stderr())
        return m.group(1) if m else None

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def get(self, path, headers=None, method="GET"):
        req = urllib.request.Request(self.base + path, headers=headers or {}, method=method)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def scrape(self):
        status, _, body = self.get("/metrics")
        assert status == 200, status
        return body.decode("utf-8")

    def samples(self):
        return parse_exposition(self.scrape())

    def wait_for_lines(self, n, timeout=30.0):
        """Waits until n lines are read, then scrapes once more (the counts
        are published after the lines' metric updates)."""
        def done():
            return value(self.samples(), "ailog_exporter_lines_read_total") >= n
        wait_until(done, timeout=timeout, what=f"{n} lines read")
        return self.samples()

    def stop(self, sig=None):
        if self.proc.poll() is None:
            self.proc.terminate() if sig is None else self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._stderr.close()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.stop()
        if exc_type is not None:
            # A failing test shows what the exporter said.
            print(f"--- exporter log ({' '.join(self.proc.args[1:])}):\n" + "\n".join(self.stderr().splitlines()[-60:]))
        shutil.rmtree(self.tmp, ignore_errors=True)


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')


def _unescape(v):
    out, i = [], 0
    while i < len(v):
        c = v[i]
        if c == "\\" and i + 1 < len(v):
            n = v[i + 1]
            out.append({"n": "\n", "\\": "\\", '"': '"'}.get(n, "\\" + n))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def parse_exposition(text):
    """{(name, frozenset of (label, value)): float} for every sample line."""
    samples = {}
    for line in text.split("\n"):
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        assert m, f"unparsable exposition line: {line!r}"
        name, _, labels_text, raw = m.groups()
        labels = {}
        if labels_text:
            pos = 0
            while pos < len(labels_text):
                lm = _LABEL.match(labels_text, pos)
                assert lm, f"bad labels in {line!r}"
                labels[lm.group(1)] = _unescape(lm.group(2))
                pos = lm.end()
        key = (name, frozenset(labels.items()))
        assert key not in samples, f"duplicate series {line!r}"
        samples[key] = float(raw)
    return samples


_NO_DEFAULT = object()


def show_series(name, labels):
    """A series as the exposition writes it: name{label="value",...}."""
    if not labels:
        return name
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(dict(labels).items())) + "}"


def value(samples, name, *, default=_NO_DEFAULT, **labels):
    """The value of one series. A series missing from the scrape is an
    AssertionError naming it, unless `default` is given (for a series that
    may legitimately not exist yet, e.g. an openai_* series before its first
    entry)."""
    key = (name, frozenset(labels.items()))
    if key in samples:
        return samples[key]
    if default is not _NO_DEFAULT:
        return default
    present = sorted(show_series(n, ls) for n, ls in samples if n == name)
    if not present:
        hint = "no series of that name"
    else:
        hint = "series of that name: " + ", ".join(present[:8]) + (", ..." if len(present) > 8 else "")
    raise AssertionError(f"no series {show_series(name, labels)} in the scrape ({hint})")


def series_of(samples, name, *, required=False):
    """{labels: value} of every series named `name`; with required=True, none
    at all is an AssertionError naming the metric."""
    out = {k[1]: v for k, v in samples.items() if k[0] == name}
    if required and not out:
        raise AssertionError(f"no series named {name} in the scrape")
    return out


# The openai_* families' label names, in the order the state file lists a series' label values.
LABEL_NAMES = {
    "openai_api_requests_total": ("capability", "operation", "status"),
    "openai_api_request_duration_ms": ("capability", "operation", "status"),
    "openai_api_tokens_total": ("capability", "operation", "type"),
    "openai_api_request_errors_total": ("capability", "operation", "error_type"),
    "openai_api_requests_in_flight": ("capability", "operation"),
}
BUCKET_LES = ("10", "50", "100", "250", "500", "1000", "2500", "5000", "10000", "+Inf")
# The exporter's own counters in the state file (src/state/checkpoint.cpp) and their series.
SELF_COUNTERS = {
    "lines_read": "ailog_exporter_lines_read_total",
    "bytes_read": "ailog_exporter_bytes_read_total",
    "read_errors": "ailog_exporter_read_errors_total",
    "entries_without_timestamp": "ailog_exporter_entries_without_timestamp_total",
    "rotations": "ailog_exporter_file_rotations_total",
    "truncations": "ailog_exporter_file_truncations_total",
    "state_writes": "ailog_exporter_state_writes_total",
    "state_write_failures": "ailog_exporter_state_write_failures_total",
    "negative_durations": "ailog_exporter_negative_durations_total",
    "state_series_dropped": "ailog_exporter_state_series_dropped_total",
}
SELF_COUNTER_GROUPS = {  # "group/label value"
    "invalid_timestamps": ("ailog_exporter_invalid_timestamps_total", "reason"),
    "skipped": ("ailog_exporter_lines_skipped_total", "reason"),
    "evicted": ("ailog_exporter_correlation_evicted_total", "reason"),
    "entries": ("ailog_exporter_entries_total", "kind"),
    "unmatched": ("ailog_exporter_unmatched_entries_total", "kind"),
}


def state_samples(state):
    """A committed state (the parsed state file) as exposition samples
    ({(name, labels): value}): every openai_* series (histogram buckets made
    cumulative, as served) and every counter of the exporter's own."""
    samples = {}

    def put(name, labels, v):
        key = (name, frozenset(labels.items()))
        assert key not in samples, f"the state holds {show_series(name, labels)} twice"
        samples[key] = float(v)

    for family in state["families"]:
        name = family["name"]
        assert name in LABEL_NAMES, f"unknown family {name} in the state"
        for series in family["series"]:
            labels = dict(zip(LABEL_NAMES[name], series["labels"], strict=True))
            if "buckets" in series:
                cumulative = 0
                for le, n in zip(BUCKET_LES, series["buckets"], strict=True):
                    cumulative += n
                    put(name + "_bucket", dict(labels, le=le), cumulative)
                put(name + "_count", labels, cumulative)
                put(name + "_sum", labels, series["value"])
            else:
                put(name, labels, series["value"])
    for key, v in state["counters"].items():
        group, _, label = key.partition("/")
        if key == "unmatched/start":
            assert v == 0, f"unmatched/start = {v}"  # a start has no start to miss; no such series is served
        elif key in SELF_COUNTERS:
            put(SELF_COUNTERS[key], {}, v)
        elif group in SELF_COUNTER_GROUPS:
            name, label_name = SELF_COUNTER_GROUPS[group]
            put(name, {label_name: label}, v)
        else:
            raise AssertionError(f"unknown counter {key} in the state")
    return samples


def committed_counters(state_path):
    """The counters a state file commits, as exposition samples: every
    openai_* counter and histogram series and every counter of the
    exporter's own (not the in-flight gauge). A restored exporter must serve
    at least these once it answers."""
    with open(state_path) as f:
        samples = state_samples(json.load(f))
    return {k: v for k, v in samples.items() if k[0] != "openai_api_requests_in_flight"}


def shortfalls(committed, samples):
    """The committed counters that a scrape shows below their committed value,
    or not at all."""
    out = []
    for key, want in committed.items():
        got = samples.get(key)
        if got is None:
            if want:
                out.append(f"{show_series(*key)} missing, committed {want}")
        elif got < want - 1e-9 * abs(want):
            out.append(f"{show_series(*key)} = {got}, committed {want}")
    return out


def describe(found, most=8):
    return "\n".join(found[:most]) + (f"\n... ({len(found)} in all)" if len(found) > most else "")


def first_answer(e, timeout=30.0):
    """Polls /metrics until it answers 200 and returns that scrape. 503 is
    what a restored exporter answers until it has caught up; any other
    answer fails at once."""
    deadline = time.monotonic() + timeout
    while True:
        status, _, body = e.get("/metrics")
        if status == 200:
            return parse_exposition(body.decode())
        assert status == 503, f"/metrics answered {status}: {body[:300]!r}"
        assert time.monotonic() < deadline, f"/metrics still 503 after {timeout}s"
        time.sleep(0.01)


def generate(out, expected, *args):
    subprocess.run([sys.executable, GENERATOR, "--out", out, "--expected", expected] + [str(a) for a in args],
                   check=True)
    with open(expected) as f:
        return json.load(f)


def compare(samples, expected, check_self=True):
    """Every figure of the generator's expected file against a scrape; returns
    a list of mismatches (empty when everything is exact)."""
    problems = []

    def want(name, labels, v, exact=True):
        got = samples.get((name, frozenset(labels.items())))
        if got is None:
            problems.append(f"missing {name}{labels} (want {v})")
        elif (got != v) if exact else not math.isclose(got, v, rel_tol=1e-12, abs_tol=1e-9):
            problems.append(f"{name}{labels}: got {got}, want {v}")

    metrics = expected["metrics"]
    seen = set()
    for name, series in metrics.items():
        for s in series:
            labels = s["labels"]
            if "buckets" in s:
                for le, count in s["buckets"].items():
                    want(name + "_bucket", dict(labels, le=le), count)
                    seen.add((name + "_bucket", frozenset(dict(labels, le=le).items())))
                want(name + "_count", labels, s["count"])
                want(name + "_sum", labels, s["sum"], exact=False)
                seen.add((name + "_count", frozenset(labels.items())))
                seen.add((name + "_sum", frozenset(labels.items())))
            else:
                want(name, labels, s["value"])
                seen.add((name, frozenset(labels.items())))
    for key in samples:
        if key[0].startswith("openai_") and key not in seen:
            problems.append(f"unexpected series {key[0]}{dict(key[1])} = {samples[key]}")

    if check_self:
        want("ailog_exporter_lines_read_total", {}, expected["lines"])
        want("ailog_exporter_bytes_read_total", {}, expected["bytes"])
        reasons = {dict(k[1])["reason"] for k in samples if k[0] == "ailog_exporter_lines_skipped_total"}
        if not reasons:
            problems.append("no series named ailog_exporter_lines_skipped_total")
        for reason in reasons | set(expected["skipped"]):
            want("ailog_exporter_lines_skipped_total", {"reason": reason}, expected["skipped"].get(reason, 0))
        for kind, n in expected["entries"].items():
            want("ailog_exporter_entries_total", {"kind": kind}, n)
        for kind, n in expected["unmatched"].items():
            want("ailog_exporter_unmatched_entries_total", {"kind": kind}, n)
    return problems


def differences(got, want):
    """Series of either {(name, labels): value} that the other lacks or holds
    another value for (to 1e-9), one line each."""
    problems = []
    for key in sorted(set(got) | set(want), key=str):
        g, w = got.get(key), want.get(key)
        if g is None or w is None or not math.isclose(g, w, rel_tol=1e-9, abs_tol=1e-9):
            problems.append(f"{key[0]}{dict(key[1])}: served {g}, expected {w}")
    return problems


def promtool_problems(exposition):
    """promtool check metrics remarks, except the one on seed 000's _ms name."""
    promtool = shutil.which("promtool")
    if promtool is None:
        raise AssertionError("promtool is not installed (Debian package prometheus)")
    r = subprocess.run([promtool, "check", "metrics"], input=exposition.encode(), capture_output=True)
    remarks = (r.stdout + r.stderr).decode().strip().splitlines()
    allowed = "openai_api_request_duration_ms metric names should not contain abbreviated units"
    problems = [x for x in remarks if x.strip() and x.strip() != allowed]
    if r.returncode not in (0, 3) or (r.returncode == 3 and not remarks):
        problems.append(f"promtool exited with {r.returncode}")
    return problems


def run_tests(tests):
    """Runs test functions, prints a line per test, exits non-zero on failure."""
    failed = 0
    only = sys.argv[1:]
    for t in tests:
        if only and t.__name__ not in only:
            continue
        start = time.monotonic()
        try:
            t()
            print(f"ok   {t.__name__} ({time.monotonic() - start:.1f}s)", flush=True)
        except Exception as e:
            failed += 1
            print(f"FAIL {t.__name__}: {e}", flush=True)
            import traceback
            traceback.print_exc()
    sys.exit(1 if failed else 0)


_REQUEST_ID = re.compile(rb'"requestId":\s*"((?:[^"\\]|\\.)*)"')


def deal_calls(lines, n, staggered):
    """The lines of a log (bytes, without newlines) dealt into n lists of
    lines with newlines, each call's lines in one list (a start and its end
    are matched within one input). Staggered: list k holds the calls that
    start in the k-th slice of the log and that slice's other lines, so the
    lists follow one another in time; otherwise calls go round by the hash of
    their id and other lines by position, so every list spans the whole log."""
    out = [[] for _ in range(n)]
    slot_of_call = {}
    for i, line in enumerate(lines):
        m = _REQUEST_ID.search(line)
        if staggered:
            slot = i * n // len(lines)
            k = slot_of_call.setdefault(m.group(1), slot) if m else slot
        else:
            k = zlib.crc32(m.group(1)) % n if m else i % n
        out[k].append(line + b"\n")
    return out


def add_metrics(a, b):
    """Series-wise sum of two generator metric sets."""
    out = {}
    for name in set(a) | set(b):
        merged = {}
        for s in a.get(name, []) + b.get(name, []):
            key = json.dumps(s["labels"], sort_keys=True)
            if key not in merged:
                merged[key] = json.loads(json.dumps(s))
                continue
            m = merged[key]
            if "buckets" in s:
                for le in s["buckets"]:
                    m["buckets"][le] += s["buckets"][le]
                m["sum"] += s["sum"]
                m["count"] += s["count"]
            else:
                m["value"] += s["value"]
        out[name] = list(merged.values())
    return out
