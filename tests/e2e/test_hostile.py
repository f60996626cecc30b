"""Hostile lines mixed with good ones, through serve and through replay in
every output format: depth bombs, numbers beyond a double, NaN and Infinity,
NUL and lone surrogates, overlong and truncated UTF-8, 200 KB values, binary,
times far outside the valid range. Each is an entry line in every other
respect, so that letting one through would change a figure. No crash, no
stall; every broken line is read and skipped; the good lines' figures are
exact; every output is accepted by promtool (the exposition, and blocks made
from the OpenMetrics history).

Two kinds are entries by the rules and are checked as such: a deep but
well-formed object (JSON sets no depth limit; the fields are read without
descending into it), and entries whose time is out of range (serve takes the
time of reading, replay skips them; both count them as invalid timestamps)."""

import json
import os
import shutil
import subprocess
import tempfile

from harness import Exporter, binary, compare, generate, parse_exposition, promtool_problems, run_tests, value

START = ('{"message":"executeParse - start","requestId":"%s","capability":"hostile","operation":"core",'
         '"timestamp":"2025-06-01T12:00:00.000Z"%s}')
SUCCEEDED = ('{"message":"executeParse - succeeded","requestId":"%s","capability":"hostile","operation":"core",'
             '"timestamp":"2025-06-01T12:00:01.000Z","result":{"durationMs":%s,"usage":{"tokens":{"input":%s,'
             '"output":1}}}%s}')


def hostile_lines():
    """(name, bytes) of lines that must all be skipped."""
    out = []
    # Never a newline inside: each is one line.

    def add(name, line):
        out.append((name, line if isinstance(line, bytes) else line.encode("utf-8", "surrogatepass")))

    add("depth bomb, unclosed", START % ("h-deep2", ',"extra":' + "{\"a\":" * 50000))
    add("depth bomb before the fields", '{"extra":' + "[" * 100000 + "]" * 99999 + ',' + (START % ("h-deep3", ""))[1:])
    add("1e400 duration", SUCCEEDED % ("h-big", "1e400", "1", ""))
    add("-1e400 tokens", SUCCEEDED % ("h-big2", "5", "-1e400", ""))
    add("NaN duration", SUCCEEDED % ("h-nan", "NaN", "1", ""))
    add("Infinity tokens", SUCCEEDED % ("h-inf", "5", "Infinity", ""))
    add("huge integer", SUCCEEDED % ("h-int", "5", "1" + "0" * 400, ""))
    add("NUL in the message", START.replace("executeParse - start", "executeParse\\u0000 - start") % ("h-nul", ""))
    add("raw NUL", (START % ("h-rawnul", "")).encode().replace(b"- start", b"-\x00start"))
    add("lone high surrogate", START.replace("executeParse - start", "executeParse - start\\ud800") % ("h-sur", ""))
    add("lone low surrogate", START.replace('"message"', '"mess\\udc00age"') % ("h-sur2", ""))
    add("overlong UTF-8", (START % ("h-over", "")).encode().replace(b"start", b"st\xc1\xa1rt"))
    add("overlong slash", (START % ("h-over2", "")).encode().replace(b"core", b"\xc0\xafcore"))
    add("truncated UTF-8", (START % ("h-trunc", "")).encode().replace(b"core", b"core\xe2\x82"))
    add("UTF-16 surrogate in UTF-8", (START % ("h-cesu", "")).encode().replace(b"core", b"\xed\xa0\x80core"))
    add("200 KB value, unterminated", START % ("h-long", ',"input":"' + "x" * 200000))
    add("binary", bytes(b for b in range(256) if b != 0x0A) * 4)
    add("binary after an entry", (START % ("h-bin", "")).encode() + b"\x00\xff\xfe\x01")
    add("two objects", START % ("h-two", "") + START % ("h-two2", ""))
    add("wrong type message", START.replace('"executeParse - start"', '["executeParse - start"]') % ("h-type", ""))
    add("object id", START.replace('"requestId":"%s"', '"requestId":{"a":"%s"}') % ("h-idobj", ""))
    add("unterminated string", (START % ("h-unterm", ""))[:-10])
    add("control character", START.replace("core", "co\x01re") % ("h-ctl", ""))
    add("bad escape", START.replace("core", "co\\qre") % ("h-esc", ""))
    add("trailing comma", (START % ("h-comma", ""))[:-1] + ",}")
    return out


def entry_lines():
    """Lines that are entries by the rules, of capability hostile-*: a deep
    well-formed object, and starts whose time is out of range."""
    start = START.replace('"hostile"', '"hostile-entry"')
    deep = "[" * 100000 + "]" * 100000
    return [(start % ("e-deep", ',"extra":' + deep)).encode(),
            (start.replace('"2025-06-01T12:00:00.000Z"', "1e300") % ("e-t1", "")).encode(),
            (start.replace('"2025-06-01T12:00:00.000Z"', "-1e300") % ("e-t2", "")).encode(),
            (start.replace("2025-06-01", "99999-06-01") % ("e-t3", "")).encode()]


BAD_TIMES = 3  # of entry_lines()


def write_mixed(tmp, seed):
    """A generated log with the hostile lines spread through it; returns its
    path, the generator's figures and the number of hostile lines."""
    good = os.path.join(tmp, "good.log")
    expected = generate(good, good + ".json", "--flavour", "mixed", "--seed", seed, "--lines", 3000)
    with open(good, "rb") as f:
        lines = f.read().split(b"\n")[:-1]
    bad = hostile_lines() + [("entry", line) for line in entry_lines()]
    step = max(1, len(lines) // (len(bad) + 1))
    mixed = []
    for i, line in enumerate(lines):
        mixed.append(line)
        if i % step == step - 1 and i // step < len(bad):
            mixed.append(bad[i // step][1])
    path = os.path.join(tmp, "app.log")
    with open(path, "wb") as f:
        f.write(b"\n".join(mixed) + b"\n")
    assert len(mixed) == len(lines) + len(bad)
    expected = json.loads(json.dumps(expected))
    expected["lines"] += len(bad)
    expected["bytes"] = os.path.getsize(path)
    return path, expected, len(bad) - len(entry_lines())


def skipped_total(samples):
    return sum(v for k, v in samples.items() if k[0] == "ailog_exporter_lines_skipped_total")


def invalid_times(samples):
    return sum(v for k, v in samples.items() if k[0] == "ailog_exporter_invalid_timestamps_total")


def good_only(samples):
    """The series of the generator's lines: without capability hostile-entry."""
    return {k: v for k, v in samples.items() if ("capability", "hostile-entry") not in k[1]}


def test_serve():
    with tempfile.TemporaryDirectory() as tmp:
        path, expected, n_bad = write_mixed(tmp, 61)
        with Exporter(["--start-at", "beginning", "--correlation.max-age", "100000d", path]) as e:
            samples = e.wait_for_lines(expected["lines"], timeout=60)
            problems = compare(good_only(samples), expected, check_self=False)
            assert not problems, "\n".join(problems[:20])
            assert value(samples, "ailog_exporter_bytes_read_total") == expected["bytes"]
            good_skipped = sum(expected["skipped"].values())
            assert skipped_total(samples) == good_skipped + n_bad, (skipped_total(samples), good_skipped, n_bad)
            # Out-of-range times: counted, and the entries taken at the time they were read.
            assert invalid_times(samples) == BAD_TIMES
            assert value(samples, "openai_api_requests_in_flight", capability="hostile-entry", operation="core") == \
                1 + BAD_TIMES
            assert promtool_problems(e.scrape()) == []
            assert e.proc.poll() is None


def replay(path, *args, timeout=120):
    r = subprocess.run([binary(), "replay", "-q", "--correlation.max-age", "100000d", *args, path],
                       capture_output=True, timeout=timeout)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    return r.stdout


def test_replay_every_output():
    with tempfile.TemporaryDirectory() as tmp:
        path, expected, n_bad = write_mixed(tmp, 62)
        for threads in ("1", "2"):
            text = replay(path, "--threads", threads, "--output", "prometheus").decode()
            samples = parse_exposition(text)
            problems = compare(good_only(samples), expected, check_self=False)
            assert not problems, f"--threads {threads}:\n" + "\n".join(problems[:20])
            # Entries out of range are not replayed: only the deep one is open.
            assert value(samples, "openai_api_requests_in_flight", capability="hostile-entry", operation="core") == 1
            assert promtool_problems(text) == []
        # OpenMetrics history, turned into blocks by promtool.
        om = os.path.join(tmp, "history.om")
        with open(om, "wb") as f:
            f.write(replay(path, "--output", "openmetrics"))
        blocks = os.path.join(tmp, "tsdb")
        r = subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", om, blocks],
                           capture_output=True, timeout=120)
        assert r.returncode == 0, r.stderr.decode()[-2000:]
        assert [b for b in os.listdir(blocks) if not b.startswith(".")], "no block made"
        shutil.rmtree(blocks)
        summary = json.loads(replay(path, "--output", "json"))
        assert summary, "empty JSON summary"
        assert replay(path, "--output", "summary").strip()


if __name__ == "__main__":
    run_tests([test_serve, test_replay_every_output])
