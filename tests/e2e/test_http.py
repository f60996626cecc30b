"""HTTP endpoints of the real binary: metrics (plain and gzip), health,
readiness, landing page, 404, methods, custom telemetry path."""

import gzip
import os
import tempfile

from harness import Exporter, parse_exposition, promtool_problems, run_tests, value, wait_until

ENTRY = ('{"level":"info","message":"executeParse - start","requestId":"r1","capability":"parse-task",'
         '"operation":"core","timestamp":"2025-06-01T12:00:00.029Z"}\n')


def log_file():
    fd, path = tempfile.mkstemp(suffix=".log")
    os.write(fd, ENTRY.encode())
    os.close(fd)
    return path


def test_endpoints():
    path = log_file()
    with Exporter(["--start-at", "beginning", path]) as e:
        wait_until(lambda: value(e.samples(), "ailog_exporter_lines_read_total") == 1, what="the line")
        status, headers, body = e.get("/metrics")
        assert status == 200
        assert headers["Content-Type"].startswith("text/plain; version=0.0.4"), headers
        text = body.decode()
        assert "openai_api_requests_in_flight" in text

        status, headers, body = e.get("/metrics", {"Accept-Encoding": "gzip"})
        assert status == 200 and headers.get("Content-Encoding") == "gzip", headers
        assert parse_exposition(gzip.decompress(body).decode()).keys() == parse_exposition(text).keys()

        assert e.get("/-/healthy")[0] == 200
        wait_until(lambda: e.get("/-/ready")[0] == 200, what="ready")
        status, headers, body = e.get("/")
        assert status == 200 and b'href="/metrics"' in body and headers["Content-Type"].startswith("text/html")
        # Only the path itself: not a spelling that a cleaning of the path would turn into it.
        for missing in ("/nope", "/metrics/extra", "/-/", "/favicon.ico", "//metrics", "/x/../metrics",
                        "/metrics/", "/./metrics"):
            assert e.get(missing)[0] == 404, missing
        # A quality of 0 refuses gzip.
        for refused in ("gzip;q=0", "gzip; q=0.000, identity", "*;q=0", "identity"):
            status, headers, body = e.get("/metrics", {"Accept-Encoding": refused})
            assert status == 200 and "Content-Encoding" not in headers, (refused, headers)
            assert body.startswith(b"# HELP"), refused
        assert e.get("/metrics", method="POST")[0] == 405
        status, _, body = e.get("/metrics", method="HEAD")
        assert status == 200 and body == b""
        assert promtool_problems(text) == []
    os.unlink(path)


def test_custom_telemetry_path():
    path = log_file()
    with Exporter(["--web.telemetry-path", "/custom/metrics", path]) as e:
        assert e.get("/custom/metrics")[0] == 200
        assert e.get("/metrics")[0] == 404
        assert b'href="/custom/metrics"' in e.get("/")[2]
    os.unlink(path)


if __name__ == "__main__":
    run_tests([test_endpoints, test_custom_telemetry_path])
