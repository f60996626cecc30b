#!/usr/bin/env python3
"""Log corpus generator for ailog_exporter, with the exact figures a correct
exporter must report for the corpus.

It writes the JSON log lines an AI service's executeParse wrapper produces
(winston, pino or bunyan flavour, optionally inside Docker json-file or
Kubernetes CRI records), mixed with the other lines real logs hold, and next to
it a JSON file with every metric, series by series and bucket by bucket, plus
the exporter's own counters (lines, bytes, skipped lines by reason, entries).

The figures follow the exporter's semantics (src/derive/deriver.cpp,
src/decode/json_decoder.cpp, src/decode/wrapper*.{hpp,cpp}):
  - an entry counts only if its line is decoded; a skipped line changes no
    metric and is counted under exactly one reason; continuation records of
    a split Docker/CRI entry count as lines read, under no reason;
  - the correlation of starts and ends is modelled like the exporter's table
    (run the exporter with --correlation.max-age large enough that no start
    expires, e.g. 100000d, and the default --correlation.max-entries);
  - histogram sums are added in file order with Python floats (doubles).

Examples:
  python3 samples/generate.py --out /tmp/a.log --expected /tmp/a.json --seed 7 --lines 5000
  python3 samples/generate.py --out /tmp/b.log --flavour mixed --wrapper cri --hostile --max-line-bytes 4096
  python3 samples/generate.py --out /tmp/big.log --bytes 300000000 --noise 0.2
  # winston lines in zone-less New York local time (read with --input.timezone America/New_York):
  python3 samples/generate.py --out /tmp/ny.log --time-format local --timezone America/New_York
  # compare a running exporter with an expected file (no generation):
  python3 samples/generate.py --expected /tmp/a.json --verify-against http://127.0.0.1:7467/metrics

Standard library only; deterministic for a given seed and arguments (except
--start now, and --time-format local without --timezone, which follows TZ).
"""

import argparse
import heapq
import json
import os
from operator import itemgetter
import random
import sys
import time
from bisect import bisect_right
from json.encoder import encode_basestring as _jstr
from json.encoder import encode_basestring_ascii as _jstr_ascii

# ---------------------------------------------------------------------------
# Exporter constants (src/derive/mapping.cpp, include/ailog/skip_reason.hpp)

BUCKETS = (10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0)
BUCKET_KEYS = ("10", "50", "100", "250", "500", "1000", "2500", "5000", "10000", "+Inf")
REASONS = ("empty", "too_long", "not_json", "invalid_json", "invalid_utf8", "not_object", "trailing_content",
           "not_matched", "missing_field", "wrong_type", "invalid_value", "bad_wrapper")
SPLIT_BYTES = 16384  # Docker and CRI split longer lines into records of this many payload bytes

MSG_START = "executeParse - start"
MSG_SUCCEEDED = "executeParse - succeeded"
MSG_FAILED = "executeParse - failed"


def error_type(status):
    """The errors_total label for openaiErrorStatusCode (None: absent or null)."""
    if status is None:
        return "INTERNAL"
    if status == 429:
        return "RATE_LIMITED"
    if status in (401, 403):
        return "UNAUTHORIZED"
    if status in (400, 404, 422):
        return "BAD_REQUEST"
    if 502 <= status <= 504:
        return "PROVIDER_UNAVAILABLE"
    if 500 <= status <= 599:
        return "PROVIDER_ERROR"
    return "OTHER"


# ---------------------------------------------------------------------------
# Vocabulary

CAPABILITIES = ["parse-task", "summarize", "classify-intent", "extract-entities", "generate-title", "suggest-tags",
                "translate", "detect-language", "rewrite-tone", "answer-question", "plan-day", "extract-dates"]
OPERATIONS = ["core", "subtasks", "refine"]
OPERATION_WEIGHTS = [0.7, 0.2, 0.1]
WEIRD_CAPABILITY = 'weird "cap" \\ path\nline \u2713 r\u00e9sum\u00e9'
PROMPT_VERSIONS = ["v1", "v2", "v3", "v3.1", "2025-05-28"]
SERVICES = ["ai-service", "task-api", "ai-gateway"]
ENVS = ["production", "staging", "dev"]
HOSTNAMES = ["ai-service-7d9f8b6c4-x2k9p", "ai-service-7d9f8b6c4-q8w7e", "ip-10-0-3-17", "worker-2"]

INPUT_FRAGMENTS = [
    "Buy milk tomorrow at 5pm",
    "Call the dentist on Monday morning",
    'Remind me to call "Mom" on Sunday',
    "Meeting with Zo\u00eb at 10:30 \U0001F4C5",
    "Pay rent before the 1st \U0001F4B8\U0001F4B8",
    "Finish the Q3 report, then email it to the team",
    "Line one\nLine two\nLine three",
    "The log said executeParse - succeeded but nothing happened",
    "why do I see 'executeParse - failed' in my console?",
    'Paste: {"message":"executeParse - start","capability":"parse-task"}',
    "Fix C:\\Users\\me\\notes.txt and /tmp/a\\b",
    "Tabs\tand\ttabs",
    "\u660e\u5929\u4e0b\u5348\u4e09\u70b9\u5f00\u4f1a",
    "\u0627\u062c\u062a\u0645\u0627\u0639 \u063a\u062f\u0627",
    "\u00a1Ma\u00f1ana! caf\u00e9 cr\u00e8me br\u00fbl\u00e9e",
    "Book flights \u2708\ufe0f for the family \U0001F468\u200d\U0001F469\u200d\U0001F467",
    "<script>alert('x')</script> & other <html>",
    "summarize this: The quick brown fox jumps over the lazy dog.",
    "Water the plants every 3 days \U0001F331",
    "Ship v2.3.1 & update the changelog",
    "Translate to French: good morning, how are you?",
    "plan my week: gym mon/wed/fri, groceries sat",
    "Is 50% off at 12:00 a good deal?",
    "\"quoted\" \\\"escaped\\\" mixed",
    "executeParse - succeeded executeParse - start executeParse - failed",
]

OUTPUTS = [
    '{"title":"Buy milk","dueDate":"2025-06-02T17:00:00.000Z","priority":"normal","tags":["errands"]}',
    '{"title":"Call the dentist","dueDate":"2025-06-02T09:00:00.000Z","tags":[]}',
    '{"summary":"The user wants to be reminded about a call.","language":"en"}',
    '{"intent":"create_task","confidence":0.93}',
    '{"intent":"question","confidence":0.71,"alternatives":[{"intent":"search","confidence":0.2}]}',
    '{"entities":[{"type":"person","text":"Zo\u00eb"},{"type":"time","text":"10:30"}]}',
    '{"subtasks":[{"title":"Draft report"},{"title":"Email team","dependsOn":0}]}',
    '{"title":"Q3 report","notes":"line 1\\nline 2","estimateMinutes":90}',
    '{"language":"fr","text":"bonjour, comment \u00e7a va ?"}',
    '{"tags":["home","garden"],"recurrence":{"everyDays":3}}',
    '{}',
    '{"title":"\\"Quoted\\" title","emoji":"\U0001F680"}',
]

ERROR_MESSAGES = {
    400: "400 Invalid schema for response_format 'task': 'required' is required to be supplied",
    401: "401 Incorrect API key provided: sk-proj-****abcd.",
    403: "403 Project `proj_abc` does not have access to model `gpt-4o`",
    404: "404 The model `gpt-5-nano` does not exist or you do not have access to it.",
    409: "409 Conflict: the request conflicts with a concurrent request",
    422: "422 Unprocessable Entity",
    429: "429 Rate limit reached for gpt-4o-mini in organization org-xyz on tokens per min (TPM): "
         "Limit 200000, Used 199500, Requested 812.",
    500: "500 The server had an error while processing your request. Sorry about that!",
    501: "501 Not Implemented",
    502: "502 Bad gateway",
    503: "503 The engine is currently overloaded, please try again later",
    504: "504 Gateway timeout",
}
ERROR_NAMES = {400: "BadRequestError", 401: "AuthenticationError", 403: "PermissionDeniedError",
               404: "NotFoundError", 409: "ConflictError", 422: "UnprocessableEntityError", 429: "RateLimitError",
               500: "InternalServerError", 501: "APIError", 502: "APIError", 503: "APIError", 504: "APIError"}
STATUS_CODES = [429, 503, 500, 400, 504, 502, 422, 401, 403, 404, 409]
STATUS_WEIGHTS = [30, 10, 8, 8, 6, 5, 4, 3, 2, 2, 2]
OTHER_FAILURES = [
    ("Error", "Response was not completed: status incomplete (max_output_tokens)"),
    ("SyntaxError", "Unexpected token } in JSON at position 212"),
    ("ZodError", "Invalid model output: title: Required"),
    ("APIConnectionError", "Connection error."),
    ("APIConnectionTimeoutError", "Request timed out."),
    ("TypeError", "fetch failed"),
    ("Error", "socket hang up"),
]

BANNERS = [
    "Server listening on port 3002",
    "> ai-service@1.14.2 start",
    "> node dist/server.js",
    "Starting ai-service v1.14.2 (node v20.11.1, pid 1)",
    "(node:1) ExperimentalWarning: The Fetch API is an experimental feature.",
    "prisma:info Starting a postgresql pool with 9 connections.",
    "Error: connect ECONNREFUSED 127.0.0.1:6379",
    "Warning: executeParse - succeeded handler registered twice",
    "Unhandled rejection at: Promise { <pending> }",
    "\u2713 Compiled successfully in 812ms",
    "Redis connected to redis://redis:6379",
    "GET /healthz 200 1.032 ms - 15",
]
STACK_LINES = [
    "    at executeParse (/app/src/clients/openai/openai.ts:88:13)",
    "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)",
    "    at async TaskService.parse (/app/src/services/task.service.ts:41:20)",
    "    at async /app/src/routes/parse.ts:27:18",
    "    at OpenAI.makeRequest (/app/node_modules/openai/src/core.ts:462:21)",
    "\tat Layer.handle [as handle_request] (/app/node_modules/express/lib/router/layer.js:95:5)",
]
STACK_HEADS = ["RateLimitError: 429 Rate limit reached for gpt-4o-mini",
               "Error: executeParse - failed",
               "TypeError: Cannot read properties of undefined (reading 'tokens')",
               "Caused by: Error: socket hang up"]

# Other JSON messages of the service: (message, extra pieces). Some mention executeParse.
OTHER_MESSAGES = [
    ("HTTP request", ['"method":"POST"', '"url":"/api/tasks/parse"', '"status":200', '"responseTimeMs":842']),
    ("HTTP request", ['"method":"GET"', '"url":"/healthz"', '"status":200', '"responseTimeMs":1']),
    ("cache hit", ['"key":"parse:7f3a9c"', '"ttlSeconds":3600']),
    ("cache miss", ['"key":"summarize:19be02"']),
    ("Prompt loaded", ['"promptVersion":"v3"', '"capability":"parse-task"']),
    ("executeParse retry scheduled", ['"capability":"parse-task"', '"operation":"core"', '"attempt":2']),
    ("Received input", ['"input":"user typed executeParse - succeeded and executeParse - start"',
                        '"capability":"summarize"', '"operation":"core"']),
    ("Request completed", ['"result":{"durationMs":1234,"usage":{"tokens":{"input":10,"output":5}}}',
                           '"capability":"parse-task"', '"operation":"core"']),
    ("OpenAI client initialised", ['"model":"gpt-4o-mini"', '"timeoutMs":60000', '"maxRetries":2']),
    ("Rate limiter waiting", ['"waitMs":250', '"queue":3']),
    ("User 'executeParse - failed' report", ['"userId":"u_123"']),
]
# Hostile: messages that look like a mapped entry's but must not match it.
DECOY_MESSAGES = ["executeParse - startup", "executeParse - succeeded!", "executeParse - failedX",
                  "executeParse-start", "executeParse - Start", "executeparse - failed", " executeParse - start",
                  "executeParse - star", "executeParse -  succeeded", "executeParse\t- start",
                  "xexecuteParse - start"]

INVALID_UTF8 = [b"\xff", b"\xfe\xff", b"\xc3\x28", b"\x80", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80",
                b"\xe2\x82", b"\xc0\xaf", b"\xf4\x90\x80\x80"]
UTF8_SENTINEL = "\u0001BAD\u0001"  # replaced by invalid bytes after encoding
UTF8_SENTINEL_JSON = _jstr(UTF8_SENTINEL)[1:-1].encode()

# ---------------------------------------------------------------------------
# Time formatting

_iso_cache = {}


def iso_seconds(sec):
    s = _iso_cache.get(sec)
    if s is None:
        if len(_iso_cache) > 8192:
            _iso_cache.clear()
        tm = time.gmtime(sec)
        s = "%04d-%02d-%02dT%02d:%02d:%02d" % (tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec)
        _iso_cache[sec] = s
    return s


def iso_ms(ms, offset_min=0):
    """ISO 8601 with 3 fraction digits; with an offset, the local time of the same instant."""
    if offset_min == 0:
        sec, frac = divmod(ms, 1000)
        return "%s.%03dZ" % (iso_seconds(sec), frac)
    sec, frac = divmod(ms + offset_min * 60000, 1000)
    sign = "+" if offset_min > 0 else "-"
    h, m = divmod(abs(offset_min), 60)
    return "%s.%03d%s%02d:%02d" % (iso_seconds(sec), frac, sign, h, m)


def parse_start(text):
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+00:00"
    from datetime import datetime, timezone
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(round(dt.timestamp() * 1000))


class LocalStamp:
    """Zone-less local time of an instant, as loggers configured with a local
    time format write it (winston's "YYYY-MM-DD HH:mm:ss.SSS"): the wall time
    of `zone` (an IANA name), or of the TZ environment variable (else
    /etc/localtime) when it is None. sep: "T" or " "; micro: 6 fraction
    digits instead of 3 (the same instant: the last three are zeros)."""

    def __init__(self, zone=None, sep=" ", micro=False):
        self.zone = None
        if zone is not None:
            from zoneinfo import ZoneInfo
            self.zone = ZoneInfo(zone)
        self.sep = sep
        self.frac = "%s.%03d000" if micro else "%s.%03d"
        self.cache = {}

    def seconds(self, sec):
        s = self.cache.get(sec)
        if s is None:
            if len(self.cache) > 8192:
                self.cache.clear()
            if self.zone is None:
                tm = time.localtime(sec)
                f = (tm.tm_year, tm.tm_mon, tm.tm_mday, self.sep, tm.tm_hour, tm.tm_min, tm.tm_sec)
            else:
                from datetime import datetime
                dt = datetime.fromtimestamp(sec, self.zone)
                f = (dt.year, dt.month, dt.day, self.sep, dt.hour, dt.minute, dt.second)
            s = "%04d-%02d-%02d%s%02d:%02d:%02d" % f
            self.cache[sec] = s
        return s

    def __call__(self, ms):
        sec, frac = divmod(ms, 1000)
        return self.frac % (self.seconds(sec), frac)


# ---------------------------------------------------------------------------
# The model of the exporter's figures


class Model:
    def __init__(self):
        self.skipped = dict.fromkeys(REASONS, 0)
        self.entries = {"start": 0, "succeeded": 0, "failed": 0}
        self.unmatched = {"succeeded": 0, "failed": 0}
        self.open = {}        # requestId -> (start ms, (capability, operation))
        self.in_flight = {}   # (capability, operation) -> open starts
        self.requests = {}    # (capability, operation, status) -> n
        self.tokens = {}      # (capability, operation, type) -> sum
        self.errors = {}      # (capability, operation, error_type) -> n
        self.hist = {}        # (capability, operation, status) -> [per-bucket counts (10), sum]
        self.first_ms = None
        self.last_ms = None
        self.negative = 0
        self.checkpoints = []  # ms, ascending: figures wanted as of these instants
        self.snapshots = {}    # ms -> metrics() with every entry timestamped <= ms

    def take_snapshots(self, before_ms=None):
        """Snapshots the checkpoints earlier than before_ms (all, if None)."""
        while self.checkpoints and (before_ms is None or self.checkpoints[0] < before_ms):
            self.snapshots[self.checkpoints.pop(0)] = self.metrics()

    def skip(self, reason):
        self.skipped[reason] += 1

    def apply(self, ev):
        """ev: (kind, requestId, capability, operation, time_ms, durationMs, tokens in, tokens out, status)."""
        kind, rid, cap, op, t, dur, tin, tout, status = ev
        self.take_snapshots(t)
        self.entries[kind] += 1
        if self.first_ms is None:
            self.first_ms = t
        self.last_ms = t
        labels = (cap, op)
        if kind == "start":
            old = self.open.pop(rid, None)
            if old is not None:  # replaced
                self.in_flight[old[1]] -= 1
            self.in_flight[labels] = self.in_flight.get(labels, 0) + 1
            self.open[rid] = (t, labels)
            return
        st = self.open.pop(rid, None)
        correlated = None
        if st is not None:
            self.in_flight[st[1]] -= 1
            correlated = t - st[0]
        else:
            self.unmatched[kind] += 1
        status_label = "success" if kind == "succeeded" else "failure"
        key = (cap, op, status_label)
        self.requests[key] = self.requests.get(key, 0) + 1
        value = dur
        if value is None and correlated is not None:
            if correlated < 0:
                self.negative += 1
            else:
                value = float(correlated)
        if value is not None:
            h = self.hist.get(key)
            if h is None:
                h = self.hist[key] = [[0] * 10, 0.0]
            i = 0
            while i < 9 and value > BUCKETS[i]:
                i += 1
            h[0][i] += 1
            h[1] += value
        if kind == "succeeded":
            if tin is not None:
                k = (cap, op, "input")
                self.tokens[k] = self.tokens.get(k, 0) + tin
            if tout is not None:
                k = (cap, op, "output")
                self.tokens[k] = self.tokens.get(k, 0) + tout
        else:
            k = (cap, op, error_type(status))
            self.errors[k] = self.errors.get(k, 0) + 1

    def metrics(self):
        def num(v):
            return int(v) if isinstance(v, float) and v.is_integer() and abs(v) < 2 ** 53 else v

        def series(d, names):
            return [{"labels": dict(zip(names, k)), "value": num(v)} for k, v in sorted(d.items())]

        hist = []
        for k, (counts, total) in sorted(self.hist.items()):
            cum, buckets = 0, {}
            for key, c in zip(BUCKET_KEYS, counts):
                cum += c
                buckets[key] = cum
            hist.append({"labels": {"capability": k[0], "operation": k[1], "status": k[2]},
                         "buckets": buckets, "sum": total, "count": cum})
        return {
            "openai_api_requests_total": series(self.requests, ("capability", "operation", "status")),
            "openai_api_tokens_total": series(self.tokens, ("capability", "operation", "type")),
            "openai_api_request_errors_total": series(self.errors, ("capability", "operation", "error_type")),
            "openai_api_requests_in_flight": series(self.in_flight, ("capability", "operation")),
            "openai_api_request_duration_ms": hist,
        }


# ---------------------------------------------------------------------------
# Output: wrappers, line accounting


class Unsplittable(Exception):
    """A split record would itself be over the line limit: the exporter's
    outcome would depend on a corrupted join, so the caller writes something else."""


def docker_escape(s):
    """The log value as Docker's json-file driver writes it."""
    e = _jstr(s)
    if "<" in e or ">" in e or "&" in e:
        e = e.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    if "\u2028" in e or "\u2029" in e:
        e = e.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return e


def split_utf8(b, size):
    """Pieces of at most `size` bytes, cut at character boundaries."""
    out, i, n = [], 0, len(b)
    while n - i > size:
        j = i + size
        while j > i and (b[j] & 0xC0) == 0x80:
            j -= 1
        out.append(b[i:j])
        i = j
    out.append(b[i:])
    return out


class Output:
    def __init__(self, path, wrapper, max_line, crlf, model, rng):
        self.f = open(path, "wb")
        self.wrapper = wrapper
        self.max_line = max_line
        self.crlf = crlf if wrapper == "none" else 0.0
        self.model = model
        self.rng = rng
        self.buf = []
        self.buffered = 0
        self.lines = 0
        self.bytes = 0
        self.interleave = None  # callable(t_ms) -> writes one stderr record between split parts

    def close(self):
        self._flush()
        self.f.close()

    def _flush(self):
        if self.buf:
            self.f.write(b"".join(self.buf))
            self.buf = []
            self.buffered = 0

    def _write(self, b):
        self.buf.append(b)
        self.buffered += len(b)
        self.bytes += len(b)
        self.lines += 1
        if self.buffered > (1 << 20):
            self._flush()

    def _resolve(self, outcome):
        if outcome.__class__ is str:
            self.model.skipped[outcome] += 1
        else:
            self.model.apply(outcome)

    # Raw physical lines, outside any wrapper logic (bad wrapper records).
    def raw_line(self, b, outcome):
        self._write(b + b"\n")
        if len(b) > self.max_line:
            self.model.skipped["too_long"] += 1
        else:
            self._resolve(outcome)

    def item(self, payload, outcome, t_ms, stream="stdout", check=False):
        """One log line of the service. payload: str (valid UTF-8) or bytes.
        outcome: the skip reason, or the event tuple, the exporter yields if it
        decodes this payload. check: raise Unsplittable instead of writing a
        split whose records exceed the line limit."""
        w = self.wrapper
        if w == "none":
            b = payload if payload.__class__ is bytes else payload.encode()
            if self.crlf and self.rng.random() < self.crlf:
                self._write(b + b"\r\n")
                n = len(b) + 1
            else:
                self._write(b + b"\n")
                n = len(b)
            if n > self.max_line:
                self.model.skipped["too_long"] += 1
            else:
                self._resolve(outcome)
            return
        if w == "docker":
            if payload.__class__ is bytes:
                payload = payload.decode()  # Docker writes valid UTF-8 only
            b = payload.encode()
            sec, frac = divmod(t_ms, 1000)
            tail = '","stream":"%s","time":"%s.%03d%06dZ"}' % (stream, iso_seconds(sec), frac,
                                                               self.rng.getrandbits(20) % 1000000)
            if len(b) <= SPLIT_BYTES:
                line = ('{"log":' + docker_escape(payload + "\n")[:-1] + tail).encode()
                self._write(line + b"\n")
                if len(line) > self.max_line:
                    self.model.skipped["too_long"] += 1
                else:
                    self._resolve(outcome)
                return
            pieces = split_utf8(b, SPLIT_BYTES)
            lines = []
            for i, p in enumerate(pieces):
                s = p.decode()
                if i == len(pieces) - 1:
                    s += "\n"
                lines.append(('{"log":' + docker_escape(s)[:-1] + tail).encode())
        else:  # cri
            b = payload if payload.__class__ is bytes else payload.encode()
            sec, frac = divmod(t_ms, 1000)
            ts = ("%s.%03d000000Z %s " % (iso_seconds(sec), frac, stream)).encode()
            if len(b) <= SPLIT_BYTES:
                line = ts + b"F " + b
                self._write(line + b"\n")
                if len(line) > self.max_line:
                    self.model.skipped["too_long"] += 1
                else:
                    self._resolve(outcome)
                return
            pieces = [b[i:i + SPLIT_BYTES] for i in range(0, len(b), SPLIT_BYTES)]
            lines = [ts + (b"F " if i == len(pieces) - 1 else b"P ") + p for i, p in enumerate(pieces)]
        # Split entry: every record must fit the line limit, or a dropped record
        # would leave the others to be joined into something else. Otherwise
        # write a plain-text line instead (the model only sees what is written).
        if any(len(x) > self.max_line for x in lines):
            if check:
                raise Unsplittable()
            self.item(BANNERS[0], "not_json", t_ms, stream)
            return
        last = len(lines) - 1
        for i, x in enumerate(lines):
            self._write(x + b"\n")
            if i < last and self.interleave is not None and self.rng.random() < 0.25:
                self.interleave(t_ms)
        if len(b) > self.max_line:
            self.model.skipped["too_long"] += 1
        else:
            self._resolve(outcome)


# ---------------------------------------------------------------------------
# The generator


class Call:
    __slots__ = ("rid", "cap", "cap_json", "op", "op_json", "input_json", "pv_json", "start_ms", "end_ms",
                 "outcome", "flavour", "dur_text", "dur", "started")


class Generator:
    def __init__(self, args, start_ms):
        self.args = args
        self.rng = rng = random.Random(args.seed)
        self.model = Model()
        self.stamp = iso_ms
        if args.time_format != "iso":
            self.stamp = LocalStamp(args.timezone, " " if args.time_format == "local" else "T",
                                    micro=args.time_format == "local-t")
        self.hostile = args.hostile
        self.wrapper = args.wrapper
        self.max_line = args.max_line_bytes
        self.out = Output(args.out, args.wrapper, args.max_line_bytes, args.crlf, self.model, rng)
        if self.wrapper != "none":
            self.out.interleave = self._interleaved_stderr
        self.flavours = ["winston", "pino", "bunyan"] if args.flavour == "mixed" else [args.flavour]

        # Permutations of key order, picked per line (cheaper than a shuffle per line).
        self.perms = {}
        for n in range(2, 24):
            ps = []
            for _ in range(64):
                p = list(range(n))
                rng.shuffle(p)
                ps.append(itemgetter(*p))
            self.perms[n] = ps

        n = max(1, args.capabilities)
        caps = [CAPABILITIES[i] if i < len(CAPABILITIES) else "capability-%d" % (i + 1) for i in range(n)]
        self.caps = caps
        self.cap_cum = []
        acc = 0.0
        for i in range(n):
            acc += 1.0 / (i + 1)
            self.cap_cum.append(acc)
        self.op_cum = [0.7, 0.9, 1.0]

        # User inputs, escaped once.
        self.inputs = []
        for _ in range(400):
            k = rng.choice((1, 1, 1, 2, 2, 3))
            parts = [rng.choice(INPUT_FRAGMENTS) for _ in range(k)]
            text = rng.choice((" ", "\n", ". ")).join(parts)
            self.inputs.append(_jstr(text))
        base = "".join(rng.choice(INPUT_FRAGMENTS) + rng.choice((" ", "\n", " ", ". ")) for _ in range(3000))
        self.long_base = base
        self.outputs = OUTPUTS
        self.pids = [1, 7, 4242, 31337]

        # Time: arrival process and pending ends.
        self.t_now = start_ms
        self.next_start = start_ms + rng.randint(0, 200)
        self.mean_gap = 1000.0 / args.rate if args.rate > 0 else 50.0
        self.heap = []
        self.seq = 0
        self.recent = []        # recently started calls (hostile lines reuse their requestId)
        self.recent_ended = []  # recently ended calls (duplicate ends)

        # Calls that started before the file did: their ends are orphans.
        for _ in range(rng.randint(2, 5)):
            c = self._new_call(start_ms - rng.randint(100, 5000))
            c.started = False
            self._schedule_end(c, start_ms + rng.randint(0, 3000))

        # Noise kinds: (weight, function). Hostile kinds only with --hostile.
        kinds = [(0.45, self.noise_other_json), (0.15, self.noise_stack), (0.12, self.noise_banner),
                 (0.10, self.noise_empty)]
        self.safe_noise = list(kinds)
        if self.hostile:
            h = [(1.0, self.h_truncated), (1.0, self.h_not_object), (1.0, self.h_trailing),
                 (1.0, self.h_wrong_type), (1.0, self.h_missing_field), (1.0, self.h_invalid_value),
                 (0.25, self.h_too_long), (1.0, self.h_decoy), (0.6, self.h_duplicate_end)]
            if self.wrapper in ("none", "cri"):
                h += [(1.0, self.h_invalid_utf8), (1.0, self.h_garbage)]
            if self.wrapper in ("docker", "cri"):
                h += [(1.0, self.h_bad_wrapper)]
            total_h = sum(w for w, _ in h)
            total_s = sum(w for w, _ in kinds)
            kinds += [(w * total_s / total_h, f) for w, f in h]  # half of the noise is hostile
        self.noise_funcs = [f for _, f in kinds]
        self.noise_cum = []
        acc = 0.0
        for w, _ in kinds:
            acc += w
            self.noise_cum.append(acc)
        self.safe_cum = []
        acc = 0.0
        for w, _ in self.safe_noise:
            acc += w
            self.safe_cum.append(acc)

    # -- helpers ------------------------------------------------------------

    def uuid(self):
        r = self.rng.getrandbits(128)
        h = "%032x" % r
        return "%s-%s-4%s-%s%s-%s" % (h[0:8], h[8:12], h[13:16], "89ab"[r & 3], h[17:20], h[20:32])

    def hexid(self, n):
        return "%0*x" % (n, self.rng.getrandbits(4 * n))

    def join(self, pieces):
        if len(pieces) < 2:
            return "{" + ",".join(pieces) + "}"
        return "{" + ",".join(self.perms[len(pieces)][self.rng.getrandbits(6)](pieces)) + "}"

    def flavour(self, call=None):
        if len(self.flavours) == 1:
            return self.flavours[0]
        if call is not None and call.flavour is not None and self.rng.random() < 0.5:
            return call.flavour
        return self.flavours[self.rng.getrandbits(8) % 3]

    def header(self, flav, msg_json, error, t_ms):
        """Level, message and time pieces of a flavour (plus its fixed keys)."""
        rng = self.rng
        if flav == "winston":
            r = rng.random()
            if r < 0.85:
                ts = self.stamp(t_ms)
            else:
                ts = iso_ms(t_ms, rng.choice((120, 60, -300, -330, 330, 345, -600, -150)))
            return ['"level":"error"' if error else '"level":"info"', '"message":' + msg_json,
                    '"timestamp":"' + ts + '"']
        if flav == "pino":
            return ['"level":50' if error else '"level":30', '"time":%d' % t_ms,
                    '"pid":%d' % self.pids[rng.getrandbits(2)], '"hostname":"' + HOSTNAMES[rng.getrandbits(2)] + '"',
                    '"msg":' + msg_json]
        return ['"name":"ai-service"', '"hostname":"' + HOSTNAMES[rng.getrandbits(2)] + '"',
                '"pid":%d' % self.pids[rng.getrandbits(2)], '"level":50' if error else '"level":30',
                '"msg":' + msg_json, '"time":"' + self.stamp(t_ms) + '"', '"v":0']

    def extras(self, pieces):
        r = self.rng.getrandbits(3)
        if r & 1:
            pieces.append('"service":"' + SERVICES[r % 3] + '"')
        if r & 2:
            pieces.append('"env":"' + ENVS[(r >> 1) % 3] + '"')

    def _new_call(self, t_ms):
        rng = self.rng
        c = Call()
        c.rid = self.uuid()
        if self.hostile and rng.random() < 0.03:
            c.cap = WEIRD_CAPABILITY
        else:
            c.cap = self.caps[bisect_right(self.cap_cum, rng.random() * self.cap_cum[-1])]
        c.cap_json = _jstr(c.cap)
        c.op = OPERATIONS[bisect_right(self.op_cum, rng.random())]
        c.op_json = '"' + c.op + '"'
        if self.args.long_entries and rng.random() < self.args.long_entries:
            n = rng.randint(20000, 40000)
            i = rng.randint(0, len(self.long_base) - n - 1)
            c.input_json = _jstr(self.long_base[i:i + n])
        else:
            c.input_json = self.inputs[rng.getrandbits(16) % len(self.inputs)]
        c.pv_json = '"' + PROMPT_VERSIONS[rng.getrandbits(8) % len(PROMPT_VERSIONS)] + '"'
        c.start_ms = t_ms
        c.end_ms = None
        c.outcome = None
        c.flavour = self.flavours[rng.getrandbits(8) % 3] if len(self.flavours) == 3 else self.flavours[0]
        c.dur_text = None
        c.dur = None
        c.started = False
        return c

    def _schedule_end(self, c, end_ms):
        rng = self.rng
        c.outcome = "failed" if rng.random() < 0.15 else "succeeded"
        if c.outcome == "succeeded" and end_ms is None:
            r = rng.random()
            if r < 0.07:
                d = rng.choice(BUCKETS)
            elif r < 0.11:
                d = rng.uniform(10000.0, 90000.0)
            elif r < 0.15:
                d = rng.uniform(0.0, 10.0)
            else:
                d = min(rng.lognormvariate(6.8, 0.8), 120000.0)
            r = rng.random()
            if r < 0.18:
                d = round(d, rng.choice((1, 2, 2, 3)))
                text = repr(float(d))
            elif r < 0.25:
                text = repr(float(d) + rng.random() / 7.0)  # high-resolution timer
            elif r < 0.27:
                text = repr(float(round(d)))  # "500.0"
            else:
                text = str(int(round(d)))
            c.dur_text = text
            c.dur = float(text)
            end_ms = c.start_ms + int(c.dur) + int(rng.random() * 5)
        elif end_ms is None:
            r = rng.random()
            if r < 0.08:
                d = int(rng.choice(BUCKETS))
            elif r < 0.16:
                d = rng.randint(10001, 60000)
            elif r < 0.22:
                d = rng.randint(0, 9)
            else:
                d = int(rng.lognormvariate(6.2, 1.0))
            end_ms = c.start_ms + d
        if c.outcome == "succeeded" and c.dur_text is None:  # orphans scheduled by time
            d = max(0.0, end_ms - c.start_ms - rng.randint(0, 4)) + rng.choice((0.0, 0.0, 0.25, 0.5))
            c.dur_text = repr(d) if d != int(d) else str(int(d))
            c.dur = float(c.dur_text)
        c.end_ms = end_ms
        self.seq += 1
        heapq.heappush(self.heap, (end_ms, self.seq, c))

    # -- entries --------------------------------------------------------------

    def render(self, flav, kind, c, t_ms, result=None, failure=None, msg=None, drop=None, replace=None,
               add=None, ascii_escape=False):
        """The JSON text of one executeParse entry."""
        error = kind == "failed"
        if msg is None:
            msg = MSG_START if kind == "start" else MSG_SUCCEEDED if kind == "succeeded" else MSG_FAILED
        pieces = self.header(flav, _jstr(msg), error, t_ms)
        cap_json = _jstr_ascii(c.cap) if ascii_escape else c.cap_json
        pieces += ['"requestId":"' + c.rid + '"', '"capability":' + cap_json, '"operation":' + c.op_json,
                   '"input":' + c.input_json, '"promptVersion":' + c.pv_json]
        self.extras(pieces)
        if result is not None:
            pieces.append('"result":' + result)
        if failure is not None:
            pieces += failure
        if add:
            pieces += add
        if drop or replace:
            keep = []
            for p in pieces:
                k = p[1:p.index('"', 1)]
                if drop and k in drop:
                    continue
                if replace and k in replace:
                    p = '"' + k + '":' + replace[k]
                keep.append(p)
            pieces = keep
        return self.join(pieces)

    def result_json(self, c, usage=True, tokens=None, dur_text=None):
        """result of a succeeded entry; returns (json, tokens in, tokens out)."""
        rng = self.rng
        out = self.outputs[rng.getrandbits(8) % len(self.outputs)]
        if self.hostile and rng.random() < 0.05:
            out = '{"durationMs":"n/a","usage":{"tokens":{"input":-5}},"title":"decoy"}'
        pieces = ['"openaiResponseId":"resp_' + self.hexid(24) + '"', '"output":' + out,
                  '"durationMs":' + (dur_text or c.dur_text or "123")]
        tin = tout = None
        r = rng.random()
        if tokens is not None:
            tin, tout = tokens
            pieces.append('"usage":{"tokens":{"input":%s,"output":%s}}' % (tin, tout))
            tin = tout = None
        elif usage and r < 0.93:
            tin = 40 + int(rng.random() * 3961) if rng.random() > 0.01 else 0
            tout = 3 + int(rng.random() * 1498) if rng.random() > 0.01 else 0
            if rng.random() < 0.2:
                pieces.append('"usage":{"model":"gpt-4o-mini","tokens":{"output":%d,"input":%d},"cached":0}'
                              % (tout, tin))
            else:
                pieces.append('"usage":{"tokens":{"input":%d,"output":%d}}' % (tin, tout))
            if self.hostile and rng.random() < 0.05:
                # Only one of the two counts.
                if rng.random() < 0.5:
                    pieces[-1] = '"usage":{"tokens":{"input":%d}}' % tin
                    tout = None
                else:
                    pieces[-1] = '"usage":{"tokens":{"output":%d,"input":null}}' % tout
                    tin = None
        elif usage and r < 0.95:
            pieces.append('"usage":null')
        return self.join(pieces), tin, tout

    def failure_pieces(self, c, flav):
        """Error details of a failed entry; returns (pieces, status, message suffix)."""
        rng = self.rng
        pieces = []
        if rng.random() < 0.65:
            status = rng.choices(STATUS_CODES, weights=STATUS_WEIGHTS)[0]
            if rng.random() < 0.03:
                status = 501
            name, message = ERROR_NAMES[status], ERROR_MESSAGES[status]
            pieces += ['"openaiRequestId":"req_' + self.hexid(32) + '"', '"openaiErrorMessage":' + _jstr(message),
                       '"openaiErrorStatusCode":%d' % status]
        else:
            status = None
            name, message = OTHER_FAILURES[rng.getrandbits(8) % len(OTHER_FAILURES)]
            if rng.random() < 0.6:
                pieces.append('"openaiResponseId":"resp_' + self.hexid(24) + '"')
            if self.hostile and rng.random() < 0.1:
                pieces.append('"openaiErrorStatusCode":null')
        err = ['"name":' + _jstr(name), '"message":' + _jstr(message)]
        if rng.random() < 0.8:
            err.append('"stack":' + _jstr(name + ": " + message + "\n" + "\n".join(STACK_LINES[:3])))
        pieces.append('"error":' + self.join(err))
        return pieces, status, message

    def end_entry(self, c, t_ms, flav):
        """(json, event) of the end entry of call c at t_ms."""
        if c.outcome == "succeeded":
            res, tin, tout = self.result_json(c)
            text = self.render(flav, "succeeded", c, t_ms, result=res)
            return text, ("succeeded", c.rid, c.cap, c.op, t_ms, c.dur, tin, tout, None)
        pieces, status, message = self.failure_pieces(c, flav)
        msg = None
        if flav == "winston" and self.rng.random() < 0.2:
            msg = MSG_FAILED + " " + message
        text = self.render(flav, "failed", c, t_ms, failure=pieces, msg=msg)
        return text, ("failed", c.rid, c.cap, c.op, t_ms, None, None, None, status)

    def variant(self, text):
        """Hostile: formatting the exporter must accept (same entry)."""
        rng = self.rng
        r = rng.random()
        if r < 0.03:
            return "\ufeff" + text
        if r < 0.06:
            return rng.choice((" ", "\t", "  \t")) + text
        if r < 0.09:
            return text + rng.choice((" ", "\t", "  "))
        if r < 0.12:
            # Spaces around structural characters, outside strings.
            out, in_str, esc = [], False, False
            for ch in text:
                out.append(ch)
                if in_str:
                    if esc:
                        esc = False
                    elif ch == "\\":
                        esc = True
                    elif ch == '"':
                        in_str = False
                elif ch == '"':
                    in_str = True
                elif ch in ",:":
                    out.append(" ")
            return "".join(out)
        return text

    def emit_entry_text(self, text, event, t_ms, fallback=None):
        if self.hostile:
            text = self.variant(text)
        try:
            self.out.item(text, event, t_ms, check=True)
        except Unsplittable:
            fallback()

    def emit_start(self, c):
        flav = self.flavour(c)
        ascii_escape = self.hostile and self.rng.random() < 0.1
        text = self.render(flav, "start", c, c.start_ms, ascii_escape=ascii_escape)
        event = ("start", c.rid, c.cap, c.op, c.start_ms, None, None, None, None)

        def fallback():
            c.input_json = self.inputs[0]
            self.out.item(self.render(flav, "start", c, c.start_ms), event, c.start_ms)
        self.emit_entry_text(text, event, c.start_ms, fallback)
        c.started = True

    def emit_end(self, c):
        flav = self.flavour(c)
        text, event = self.end_entry(c, c.end_ms, flav)

        def fallback():
            c.input_json = self.inputs[0]
            t2, e2 = self.end_entry(c, c.end_ms, flav)
            self.out.item(t2, e2, c.end_ms)
        self.emit_entry_text(text, event, c.end_ms, fallback)
        self.recent_ended.append(c)
        if len(self.recent_ended) > 32:
            del self.recent_ended[0]

    def step_entry(self):
        rng = self.rng
        while True:
            if self.heap and self.heap[0][0] <= self.next_start:
                _, _, c = heapq.heappop(self.heap)
                self.t_now = c.end_ms
                self.emit_end(c)
                return
            t = self.next_start
            self.next_start = t + int(rng.expovariate(1.0 / self.mean_gap) + 0.5)
            c = self._new_call(t)
            r = rng.random()
            if r < 0.015:
                # Its start was lost (rotation, crash): the end is an orphan.
                self._schedule_end(c, None)
                continue
            self.t_now = t
            self.emit_start(c)
            self.recent.append(c)
            if len(self.recent) > 32:
                del self.recent[0]
            if r >= 0.03:  # else it never ends: in flight at the end of the file
                self._schedule_end(c, None)
            return

    # -- realistic noise ------------------------------------------------------

    def noise_other_json(self):
        rng = self.rng
        t = self.t_now
        msg, extra = OTHER_MESSAGES[rng.getrandbits(8) % len(OTHER_MESSAGES)]
        flav = self.flavour()
        pieces = self.header(flav, _jstr(msg), False, t) + list(extra)
        if rng.random() < 0.3:
            pieces.append('"requestId":"' + self.uuid() + '"')
        self.extras(pieces)
        self.out.item(self.join(pieces), "not_matched", t)

    def noise_stack(self):
        rng = self.rng
        t = self.t_now
        stream = "stderr" if rng.random() < 0.7 else "stdout"
        self.out.item(rng.choice(STACK_HEADS), "not_json", t, stream)
        for _ in range(rng.randint(1, 4)):
            self.out.item(STACK_LINES[rng.getrandbits(8) % len(STACK_LINES)], "not_json", t, stream)

    def noise_banner(self):
        stream = "stderr" if self.rng.random() < 0.3 else "stdout"
        self.out.item(BANNERS[self.rng.getrandbits(8) % len(BANNERS)], "not_json", self.t_now, stream)

    def noise_empty(self):
        if self.wrapper == "none":
            text = ("", "", " ", "\t", "  \t ")[self.rng.getrandbits(8) % 5]
        elif self.wrapper == "docker":
            text = ("", "", " ")[self.rng.getrandbits(8) % 3]
        else:
            text = ""
        self.out.item(text, "empty", self.t_now)

    def _interleaved_stderr(self, t_ms):
        rng = self.rng
        text = rng.choice(STACK_LINES + BANNERS)
        self.out.item(text, "not_json", t_ms, "stderr")

    # -- hostile noise --------------------------------------------------------

    def _victim(self):
        """A recent call (its requestId, so a skipped line must not close it) or a new one."""
        rng = self.rng
        if self.recent and rng.random() < 0.7:
            return self.recent[rng.getrandbits(8) % len(self.recent)]
        c = self._new_call(self.t_now)
        c.outcome = "succeeded"
        c.dur_text = "321"
        c.dur = 321.0
        return c

    def h_truncated(self):
        rng = self.rng
        c = self._victim()
        kind = rng.choice(("start", "succeeded", "failed"))
        flav = self.flavour()
        if kind == "start":
            text = self.render(flav, "start", c, self.t_now)
        elif kind == "succeeded":
            text = self.render(flav, "succeeded", c, self.t_now, result=self.result_json(c, dur_text="12.5")[0])
        else:
            text = self.render(flav, "failed", c, self.t_now, failure=self.failure_pieces(c, flav)[0])
        cut = rng.randint(1, len(text) - 1)
        self.out.item(text[:cut], "invalid_json", self.t_now)

    def h_not_object(self):
        rng = self.rng
        text = rng.choice(('[1,2,3]', '"a string"', '42', '-1.5e3', 'true', 'false', 'null', '[]',
                           '"executeParse - succeeded"', '[{"message":"executeParse - start","capability":"x",'
                           '"operation":"core","requestId":"r"}]', '0', '[ "a" , {} ]', ' null '))
        self.out.item(text, "not_object", self.t_now)

    def h_trailing(self):
        rng = self.rng
        c = self._victim()
        text = self.render(self.flavour(), "start", c, self.t_now)
        # Only bytes starting with { or } (see the report: other trailing bytes are counted as invalid_json).
        text += rng.choice((' {"x":1}', '}', '}', ' {"x":1}', '{}',
                            '{"message":"executeParse - succeeded","capability":"x","operation":"core"}'))
        self.out.item(text, "trailing_content", self.t_now)

    def h_wrong_type(self):
        rng = self.rng
        c = self._victim()
        flav = self.flavour()
        t = self.t_now
        r = rng.getrandbits(8) % 7
        if r <= 1:  # the brief's case: durationMs as a string
            res = self.result_json(c, dur_text=rng.choice(('"1234"', '"1.2s"', '""', 'true', '[]', '{}')))[0]
            text = self.render(flav, "succeeded", c, t, result=res)
        elif r == 2:
            res = self.result_json(c, tokens=(rng.choice(('"812"', 'true', '[812]')), 3))[0]
            text = self.render(flav, "succeeded", c, t, result=res)
        elif r == 3:
            text = self.render(flav, "succeeded", c, t, result=rng.choice(('"ok"', '42', '[1]', 'true')))
        elif r == 4:
            text = self.render(flav, "start", c, t, replace={"capability": rng.choice(('42', 'true', '["a"]',
                                                                                         '{"name":"x"}'))})
        elif r == 5:
            pieces, _, _ = self.failure_pieces(c, flav)
            pieces = [p for p in pieces if not p.startswith('"openaiErrorStatusCode"')]
            pieces.append('"openaiErrorStatusCode":"429"')
            text = self.render(flav, "failed", c, t, failure=pieces)
        else:
            text = self.render(flav, rng.choice(("start", "failed")), c, t,
                               replace={"requestId": rng.choice(('12345', 'true', '{"id":"x"}'))},
                               failure=None)
        self.out.item(text, "wrong_type", t)

    def h_missing_field(self):
        rng = self.rng
        c = self._victim()
        flav = self.flavour()
        t = self.t_now
        kind = rng.choice(("start", "succeeded", "succeeded", "failed"))
        field = "capability" if rng.random() < 0.7 else "operation"
        mods = {"drop": {field}} if rng.random() < 0.7 else {"replace": {field: "null"}}
        if kind == "start":
            text = self.render(flav, "start", c, t, **mods)
        elif kind == "succeeded":
            text = self.render(flav, "succeeded", c, t, result=self.result_json(c, dur_text="77")[0], **mods)
        else:
            text = self.render(flav, "failed", c, t, failure=self.failure_pieces(c, flav)[0], **mods)
        self.out.item(text, "missing_field", t)

    def h_invalid_value(self):
        rng = self.rng
        c = self._victim()
        r = rng.random()
        if r < 0.4:
            res = self.result_json(c, tokens=(-rng.randint(1, 500), rng.randint(1, 99)), dur_text="88")[0]
        elif r < 0.7:
            res = self.result_json(c, tokens=(rng.randint(1, 99), rng.choice(("-1", "-0.5", "-1e3"))),
                                   dur_text="88")[0]
        else:
            res = self.result_json(c, dur_text=rng.choice(("-1", "-250.5", "-1e-3")))[0]
        text = self.render(self.flavour(), "succeeded", c, self.t_now, result=res)
        self.out.item(text, "invalid_value", self.t_now)

    def h_too_long(self):
        rng = self.rng
        size = self.max_line + rng.randint(500, 1500)
        c = self._new_call(self.t_now)
        flav = self.flavour()
        if rng.random() < 0.5:
            c.input_json = '"' + "lorem ipsum dolor sit amet " * (size // 27 + 1) + '"'
            text = self.render(flav, "start", c, self.t_now)
            event = ("start", c.rid, c.cap, c.op, self.t_now, None, None, None, None)
        else:
            pieces = self.header(flav, '"upload received"', False, self.t_now)
            pieces.append('"blob":"' + "QUJD" * (size // 4 + 1) + '"')
            text = self.join(pieces)
            event = "not_matched"
        try:
            self.out.item(text, event, self.t_now, check=True)
        except Unsplittable:
            self.noise_banner()

    def h_decoy(self):
        rng = self.rng
        c = self._victim()
        flav = self.flavour()
        msg = DECOY_MESSAGES[rng.getrandbits(8) % len(DECOY_MESSAGES)]
        text = self.render(flav, "succeeded", c, self.t_now, msg=msg, result=self.result_json(c, dur_text="5")[0])
        self.out.item(text, "not_matched", self.t_now)

    def h_duplicate_end(self):
        """An end entry logged twice: the second one has no open start."""
        if not self.recent_ended:
            return self.h_decoy()
        c = self.recent_ended[self.rng.getrandbits(8) % len(self.recent_ended)]
        text, event = self.end_entry(c, self.t_now, self.flavour(c))
        self.out.item(text, event, self.t_now)

    def h_invalid_utf8(self):
        rng = self.rng
        c = self._victim()
        flav = self.flavour()
        old = c.input_json
        c.input_json = '"' + old[1:-1][:40] + UTF8_SENTINEL + 'x"'
        kind = rng.choice(("start", "succeeded", "other"))
        if kind == "start":
            text = self.render(flav, "start", c, self.t_now)
        elif kind == "succeeded":
            text = self.render(flav, "succeeded", c, self.t_now, result=self.result_json(c, dur_text="9")[0])
        else:
            pieces = self.header(flav, '"HTTP request"', False, self.t_now) + ['"input":' + c.input_json]
            text = self.join(pieces)
        c.input_json = old
        b = text.encode().replace(UTF8_SENTINEL.encode(), INVALID_UTF8[rng.getrandbits(8) % len(INVALID_UTF8)])
        self.out.item(b, "invalid_utf8", self.t_now)

    def h_garbage(self):
        rng = self.rng
        n = rng.randint(8, 200)
        body = bytes(b for b in rng.randbytes(n) if b not in (0x0A, 0x0D))
        first = bytes([rng.choice((0x00, 0x01, 0x1b, 0x7f, 0x80, 0xc3, 0xff, 0xfe, ord("x"), ord("\\"), ord("}")))])
        self.out.item(first + body, "not_json", self.t_now)

    def h_bad_wrapper(self):
        rng = self.rng
        t = self.t_now
        sec, frac = divmod(t, 1000)
        ts = "%s.%03d000000Z" % (iso_seconds(sec), frac)
        if self.wrapper == "docker":
            line = rng.choice((
                '{"log":1,"stream":"stdout","time":"%sZ"}' % ts[:-1],
                '{"log":null,"stream":"stdout","time":"%s"}' % ts,
                '{"stream":"stdout","time":"%s"}' % ts,
                '{"log":"{\\"level\\":\\"info\\"}\\n","stream":"stdout","time":"%s"' % ts,
                'Error response from daemon: configured logging driver does not support reading',
                '[1,2,3]',
                '{"log":"x\\n","stream":"stdout","time":"%s"} trailing' % ts,
            ))
        else:
            line = rng.choice((
                "%s stdout X payload" % ts,
                "%s stdout  {\"level\":30}" % ts,
                "%s stdlog F {}" % ts,
                "2025-13-45T99:00:00.000000000Z stdout F {}",
                "no-spaces-at-all",
                "%s stdout" % ts,
            ))
        self.out.raw_line(line.encode(), "bad_wrapper")

    # -- main loop ------------------------------------------------------------

    def run(self):
        args = self.args
        rng = self.rng
        out = self.out
        noise = args.noise
        max_lines = args.lines
        max_bytes = args.bytes
        funcs, cum = self.noise_funcs, self.noise_cum
        total = cum[-1]
        first = True
        noise_lines = 0
        while True:
            lines = out.lines
            if max_bytes is not None:
                if out.bytes >= max_bytes:
                    break
            elif lines >= max_lines:
                break
            # Noise items can be several lines (stack traces): steer the share of noise lines to --noise.
            p = noise + (noise * lines - noise_lines) * 0.05
            if rng.random() < p:
                if first:  # the first line decides the wrapper the exporter detects: keep it ordinary
                    self.safe_noise[rng.choices(range(len(self.safe_cum)), cum_weights=self.safe_cum)[0]][1]()
                else:
                    funcs[bisect_right(cum, rng.random() * total)]()
                noise_lines += out.lines - lines
            else:
                self.step_entry()
            first = False
        out.close()


# ---------------------------------------------------------------------------
# Verification against a running exporter


def parse_exposition(text):
    samples = {}
    for line in text.split("\n"):
        if not line or line.startswith("#"):
            continue
        brace = line.find("{")
        space = line.rfind(" ")
        if brace < 0 or brace > space:
            name = line[:space]
            labels = {}
        else:
            name = line[:brace]
            labels = {}
            i = brace + 1
            while line[i] != "}":
                eq = line.index("=", i)
                key = line[i:eq]
                i = eq + 2  # past ="
                val = []
                while line[i] != '"':
                    ch = line[i]
                    if ch == "\\":
                        nxt = line[i + 1]
                        val.append({"n": "\n", "\\": "\\", '"': '"'}.get(nxt, "\\" + nxt))
                        i += 2
                    else:
                        val.append(ch)
                        i += 1
                labels[key] = "".join(val)
                i += 1
                if line[i] == ",":
                    i += 1
            space = line.index(" ", i)
        samples[(name, frozenset(labels.items()))] = float(line[space + 1:])
    return samples


def compare(samples, expected):
    problems = []
    seen = set()

    def want(name, labels, v):
        key = (name, frozenset(labels.items()))
        seen.add(key)
        got = samples.get(key)
        if got is None:
            problems.append("missing %s%s (want %r)" % (name, labels, v))
        elif got != v:
            problems.append("%s%s: got %r, want %r" % (name, labels, got, v))

    for name, series in expected["metrics"].items():
        for s in series:
            labels = s["labels"]
            if "buckets" in s:
                for le, n in s["buckets"].items():
                    want(name + "_bucket", dict(labels, le=le), n)
                want(name + "_sum", labels, s["sum"])
                want(name + "_count", labels, s["count"])
            else:
                want(name, labels, s["value"])
    for key, v in samples.items():
        if key[0].startswith("openai_") and key not in seen:
            problems.append("unexpected series %s%s = %r" % (key[0], dict(key[1]), v))
    want("ailog_exporter_lines_read_total", {}, expected["lines"])
    want("ailog_exporter_bytes_read_total", {}, expected["bytes"])
    for reason in REASONS:
        want("ailog_exporter_lines_skipped_total", {"reason": reason}, expected["skipped"].get(reason, 0))
    for kind, n in expected["entries"].items():
        want("ailog_exporter_entries_total", {"kind": kind}, n)
    for kind, n in expected["unmatched"].items():
        want("ailog_exporter_unmatched_entries_total", {"kind": kind}, n)
    if expected.get("last_time_ms") is not None:
        want("ailog_exporter_last_entry_timestamp_seconds", {}, expected["last_time_ms"] / 1000.0)
    return problems


def verify(url, expected, deadline_s=10.0):
    import urllib.request
    end = time.monotonic() + deadline_s
    samples = {}
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                samples = parse_exposition(r.read().decode("utf-8"))
            lines = samples.get(("ailog_exporter_lines_read_total", frozenset()))
            if lines == expected["lines"]:
                break
        except OSError:
            pass
        if time.monotonic() > end:
            break
        time.sleep(0.05)
    return compare(samples, expected)


# ---------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--out", help="log file to write")
    ap.add_argument("--expected", help="JSON file of the figures the exporter must report")
    ap.add_argument("--flavour", choices=("winston", "pino", "bunyan", "mixed"), default="winston")
    ap.add_argument("--wrapper", choices=("none", "docker", "cri"), default="none")
    ap.add_argument("--seed", type=int, default=1)
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--lines", type=int, default=None, help="physical lines to write (default 1000)")
    size.add_argument("--bytes", type=int, default=None, help="stop when the file reaches this size")
    ap.add_argument("--noise", type=float, default=0.3, help="fraction of lines that are not executeParse entries")
    ap.add_argument("--max-line-bytes", type=int, default=1 << 20, help="the exporter's --max-line-bytes")
    ap.add_argument("--long-entries", type=float, default=0.0, help="fraction of calls with a 20-40 KB input")
    ap.add_argument("--crlf", type=float, default=0.0, help="fraction of lines ending in CRLF (wrapper none)")
    ap.add_argument("--start", default="2025-06-01T12:00:00Z", help="time of the first entry, or now")
    ap.add_argument("--rate", type=float, default=20.0, help="calls per second of log time")
    ap.add_argument("--time-format", choices=("iso", "local", "local-t"), default="iso",
                    help="entry timestamps of winston and bunyan lines: iso (UTC with Z), local (zone-less local "
                         "time, winston's YYYY-MM-DD HH:mm:ss.SSS), local-t (zone-less, YYYY-MM-DDTHH:mm:ss.SSSSSS); "
                         "the same instants either way (winston's lines with an explicit offset keep it; pino's epoch "
                         "numbers and Docker/CRI record times are always UTC)")
    ap.add_argument("--timezone", metavar="NAME",
                    help="IANA zone of --time-format local/local-t (default: the TZ environment variable, "
                         "else /etc/localtime)")
    ap.add_argument("--capabilities", type=int, default=4, help="number of capability values")
    ap.add_argument("--hostile", action="store_true", help="add adversarial lines")
    ap.add_argument("--checkpoint-at", action="append", default=[], metavar="TIME",
                    help="also give the figures as of this instant (ISO 8601 or epoch ms); repeatable")
    ap.add_argument("--verify-against", metavar="URL",
                    help="do not generate: compare the exporter at URL (its /metrics) with --expected")
    args = ap.parse_args(argv)

    if args.verify_against:
        if not args.expected:
            ap.error("--verify-against needs --expected")
        with open(args.expected) as f:
            expected = json.load(f)
        problems = verify(args.verify_against, expected)
        for p in problems:
            print(p, file=sys.stderr)
        print("verify: %s (%d problems)" % ("OK" if not problems else "MISMATCH", len(problems)), file=sys.stderr)
        return 1 if problems else 0

    if not args.out:
        ap.error("--out is required")
    if args.lines is None and args.bytes is None:
        args.lines = 1000
    if not 0.0 <= args.noise <= 1.0:
        ap.error("--noise must be between 0 and 1")
    if args.max_line_bytes < 64:
        ap.error("--max-line-bytes must be at least 64 (as the exporter's)")
    if args.timezone is not None:
        if args.time_format == "iso":
            ap.error("--timezone needs --time-format local or local-t")
        try:
            LocalStamp(args.timezone)
        except Exception:
            ap.error("--timezone: unknown zone %r" % args.timezone)

    if args.start == "now":
        # Average bytes of an entry line and of a noise line, by wrapper (measured; long entries aside).
        entry_b, noise_b = {"none": (470.0, 100.0), "docker": (600.0, 190.0), "cri": (505.0, 136.0)}[args.wrapper]
        avg = (1.0 - args.noise) * entry_b * (1.0 + 60.0 * args.long_entries) + args.noise * noise_b
        est_lines = args.lines if args.lines is not None else args.bytes / avg
        calls = est_lines * (1.0 - args.noise) / 2.0
        span_ms = calls * 1000.0 / (args.rate if args.rate > 0 else 20.0)
        start_ms = int(time.time() * 1000 - span_ms)
    else:
        start_ms = parse_start(args.start)

    t0 = time.monotonic()
    gen = Generator(args, start_ms)
    gen.model.checkpoints = sorted(int(c) if c.isdigit() else parse_start(c) for c in args.checkpoint_at)
    gen.run()
    model = gen.model
    model.take_snapshots()
    out = gen.out
    size = os.path.getsize(args.out)
    assert size == out.bytes, (size, out.bytes)

    if args.expected:
        arg_dict = {k: v for k, v in vars(args).items() if k != "verify_against"}
        if args.time_format == "iso":  # options added later are listed only when used
            del arg_dict["time_format"], arg_dict["timezone"]
        expected = {
            "args": arg_dict,
            "lines": out.lines,
            "bytes": out.bytes,
            "skipped": {r: n for r, n in model.skipped.items() if n},
            "entries": model.entries,
            "unmatched": model.unmatched,
            "first_time_ms": model.first_ms,
            "last_time_ms": model.last_ms,
            "metrics": model.metrics(),
            "checkpoints": {str(ms): m for ms, m in sorted(model.snapshots.items())},
        }
        with open(args.expected, "w", encoding="utf-8") as f:
            json.dump(expected, f, indent=2, ensure_ascii=False)
            f.write("\n")
    dt = time.monotonic() - t0
    print("generate.py: %s: %d lines, %d bytes, %d entries, %.1fs (%.0f lines/s)"
          % (args.out, out.lines, out.bytes, sum(model.entries.values()), dt, out.lines / dt if dt else 0),
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
