"""Following files as they grow: start at end vs beginning, a line split
across two writes, truncation, CRLF, a file written after start."""

import os
import tempfile

from harness import Exporter, run_tests, value, wait_until


def start(rid, cap="parse-task", ts="2025-06-01T12:00:00.000Z"):
    return ('{"level":"info","message":"executeParse - start","requestId":"%s","capability":"%s",'
            '"operation":"core","timestamp":"%s"}' % (rid, cap, ts))


def succeeded(rid, ms, cap="parse-task", ts="2025-06-01T12:00:01.000Z"):
    return ('{"level":"info","message":"executeParse - succeeded","requestId":"%s","capability":"%s",'
            '"operation":"core","result":{"durationMs":%s,"usage":{"tokens":{"input":10,"output":5}}},'
            '"timestamp":"%s"}' % (rid, cap, ms, ts))


def append(path, text):
    with open(path, "ab") as f:
        f.write(text.encode() if isinstance(text, str) else text)


def requests(e, status="success", cap="parse-task", **default):
    return value(e.samples(), "openai_api_requests_total", capability=cap, operation="core", status=status,
                 **default)


def lines_read(e):
    return value(e.samples(), "ailog_exporter_lines_read_total")


def test_start_at_end_skips_existing_content():
    d = tempfile.mkdtemp()
    path = os.path.join(d, "app.log")
    append(path, succeeded("old", 1) + "\n" + "partial line being writ")
    with Exporter(["--correlation.max-age", "100000d", path]) as e:
        wait_until(lambda: e.get("/-/ready")[0] == 200, what="ready")
        append(path, "ten\n" + succeeded("new", 2) + "\n")
        wait_until(lambda: requests(e) == 1, what="the new entry")
        assert lines_read(e) == 1  # the tail of the old partial line is not a line of ours
        assert value(e.samples(), "openai_api_request_duration_ms_sum", capability="parse-task",
                     operation="core", status="success") == 2


def test_start_at_beginning_and_a_line_split_across_writes():
    d = tempfile.mkdtemp()
    path = os.path.join(d, "app.log")
    append(path, start("a") + "\n")
    with Exporter(["--start-at", "beginning", "--correlation.max-age", "100000d", path]) as e:
        wait_until(lambda: lines_read(e) == 1, what="first line")
        line = succeeded("a", 1234.5) + "\r\n"
        append(path, line[:40])
        # The half line must not be counted, whatever the timing: it is not complete.
        wait_until(lambda: value(e.samples(), "ailog_exporter_pending_bytes") == 40, what="the first half read")
        # No end entry read yet: the series does not exist, or is 0.
        assert lines_read(e) == 1 and requests(e, default=0.0) == 0
        assert value(e.samples(), "ailog_exporter_bytes_read_total") == len(start("a")) + 1
        append(path, line[40:])
        wait_until(lambda: requests(e) == 1, what="the joined line")
        s = e.samples()
        assert value(s, "openai_api_request_duration_ms_sum", capability="parse-task", operation="core",
                     status="success") == 1234.5
        assert value(s, "openai_api_requests_in_flight", capability="parse-task", operation="core") == 0
        assert value(s, "ailog_exporter_lines_skipped_total", reason="invalid_json") == 0


def test_truncation_rereads_from_start():
    d = tempfile.mkdtemp()
    path = os.path.join(d, "app.log")
    append(path, succeeded("a", 1) + "\n" + succeeded("b", 1) + "\n")
    with Exporter(["--start-at", "beginning", path]) as e:
        wait_until(lambda: requests(e) == 2, what="two entries")
        with open(path, "wb") as f:  # copytruncate: the file is emptied in place
            f.truncate(0)
        append(path, succeeded("c", 1) + "\n")
        wait_until(lambda: requests(e) == 3, what="the entry after truncation")


def test_files_and_stdin_are_aggregated():
    d = tempfile.mkdtemp()
    paths = [os.path.join(d, f"pod{i}.log") for i in range(3)]
    for i, p in enumerate(paths):
        append(p, "".join(succeeded(f"{i}-{j}", 1) + "\n" for j in range(i + 1)))
    r, w = os.pipe()
    with Exporter(["--start-at", "beginning"] + paths + ["-"], stdin=r) as e:
        os.close(r)
        os.write(w, (succeeded("stdin-1", 1) + "\n").encode())
        wait_until(lambda: requests(e) == 1 + 2 + 3 + 1, what="all inputs")
        assert value(e.samples(), "ailog_exporter_files_watched") == 4
        os.close(w)


if __name__ == "__main__":
    run_tests([test_start_at_end_skips_existing_content, test_start_at_beginning_and_a_line_split_across_writes,
               test_truncation_rereads_from_start, test_files_and_stdin_are_aggregated])
