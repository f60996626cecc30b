"""Command line: help, version, and start-up errors that must exit 2 with one
clear message before anything starts."""

import os
import shutil
import socket
import subprocess
import tempfile

from harness import Exporter, binary, run_tests, unprivileged, wait_until


def run(*args, timeout=10):
    return subprocess.run([binary()] + list(args), capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)


def test_help_and_version():
    r = run("--help")
    assert r.returncode == 0 and b"serve" in r.stdout
    r = run("serve", "--help")
    out = r.stdout.decode()
    assert r.returncode == 0
    for flag in ("--web.listen-address", "--web.telemetry-path", "--start-at", "--log.level", "--log.format",
                 "--max-line-bytes", "--exit-on-eof", "Examples:", "kubectl logs"):
        assert flag in out, flag
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith(b"ailog_exporter 0.")


def test_usage_errors_exit_2():
    cases = [
        ["serve"],                                    # no PATH
        ["serve", "--no-such-flag", "x.log"],
        ["serve", "--start-at", "middle", "x.log"],
        ["serve", "--log.format", "xml", "x.log"],
        ["serve", "--log.level", "loud", "x.log"],
        ["serve", "--web.telemetry-path", "metrics", "x.log"],
        ["serve", "--correlation.max-age", "ten minutes", "x.log"],
        ["serve", "--max-line-bytes", "12", "x.log"],
        ["serve", "--input.wrapper", "syslog", "x.log"],
        ["serve", "--state.interval", "0s", "x.log"],
        ["serve", "--input.timezone", "Nowhere/Invalid", "x.log"],
    ]
    for args in cases:
        r = run(*args)
        assert r.returncode == 2, (args, r.returncode, r.stderr)
        assert b"error" in r.stderr.lower(), (args, r.stderr)


def test_errors_name_the_command_they_belong_to():
    r = run("replay", "--output", "xml", "x.log")
    assert r.returncode == 2 and b"Run 'ailog_exporter replay --help'" in r.stderr, r.stderr
    r = run("serve", "--start-at", "middle", "x.log")
    assert r.returncode == 2 and b"Run 'ailog_exporter serve --help'" in r.stderr, r.stderr


def test_state_file_in_a_missing_directory_exits_2():
    fd, path = tempfile.mkstemp()
    os.close(fd)
    r = run("serve", "--web.listen-address", "127.0.0.1:0", "--state.file", "/nonexistent/dir/state.json", path)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert b"--state.file" in r.stderr and b"/nonexistent/dir" in r.stderr, r.stderr
    assert b"listening" not in r.stderr, r.stderr


def test_replay_exposition_has_no_process_metrics():
    fd, path = tempfile.mkstemp(suffix=".log")
    os.write(fd, b'{"message":"executeParse - start","requestId":"r","capability":"c","operation":"o",'
                 b'"timestamp":"2025-06-01T12:00:00Z"}\n')
    os.close(fd)
    r = run("replay", "--output", "prometheus", path)
    assert r.returncode == 0, r.stderr
    assert b"openai_api_requests_in_flight" in r.stdout
    assert b"process_" not in r.stdout, [x for x in r.stdout.splitlines() if b"process_" in x]


def test_unreadable_path_exits_2_naming_it():
    r = run("serve", "--web.listen-address", "127.0.0.1:0", "/nonexistent/app.log")
    assert r.returncode == 2
    assert b"/nonexistent/app.log" in r.stderr and b"No such file" in r.stderr, r.stderr
    # A file the exporter's user may not read (mode 0), in a directory it can
    # traverse. Root reads anything: then the exporter runs as nobody.
    d = tempfile.mkdtemp()
    try:
        os.chmod(d, 0o755)
        path = os.path.join(d, "secret.log")
        open(path, "w").close()
        os.chmod(path, 0)
        prefix = unprivileged()
        r = subprocess.run(prefix + [binary(), "serve", "--web.listen-address", "127.0.0.1:0", path],
                           capture_output=True, timeout=10, stdin=subprocess.DEVNULL)
        assert r.returncode == 2, (prefix, r.returncode, r.stderr)
        assert path.encode() in r.stderr and b"Permission denied" in r.stderr, r.stderr
        assert b"listening" not in r.stderr, r.stderr
        # The same file readable: the exporter, as the same user, starts.
        os.chmod(path, 0o644)
        with Exporter([path], prefix=prefix) as e:
            assert e.get("/-/healthy")[0] == 200
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_busy_port_exits_2():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    port = s.getsockname()[1]
    fd, path = tempfile.mkstemp()
    os.close(fd)
    r = run("serve", "--web.listen-address", f"127.0.0.1:{port}", path)
    s.close()
    assert r.returncode == 2, r.returncode
    assert f"127.0.0.1:{port}".encode() in r.stderr, r.stderr
    assert r.stderr.count(b"\n") <= 2, r.stderr  # one clear message


def test_bad_listen_address_exits_2():
    fd, path = tempfile.mkstemp()
    os.close(fd)
    for addr in ("nonsense", "127.0.0.1:99999", "example.com:80"):
        r = run("serve", "--web.listen-address", addr, path)
        assert r.returncode == 2 and addr.encode() in r.stderr, (addr, r.stderr)


def test_serve_answers_and_sigterm_exits_0():
    fd, path = tempfile.mkstemp()
    os.close(fd)
    with Exporter([path]) as e:
        assert e.get("/-/healthy")[0] == 200
        assert e.stop() == 0


def test_listening_address_is_logged_at_any_level():
    # With port 0 the log line is the only place the chosen port is told.
    fd, path = tempfile.mkstemp()
    os.close(fd)
    for level in ("warn", "error"):
        with Exporter(["--log.level", level, path]) as e:
            assert e.get("/-/healthy")[0] == 200
            assert "listening address=127.0.0.1:" in e.stderr(), e.stderr()


def test_json_log_format():
    import json
    fd, path = tempfile.mkstemp()
    # A line that is not UTF-8 is skipped and logged with a sample: the log stays UTF-8 JSON.
    os.write(fd, b'{"message":"executeParse - start","capability":"c\xff\xfe","operation":"o"}\n')
    os.close(fd)
    with Exporter(["--log.format", "json", "--start-at", "beginning", path]) as e:
        first = e.stderr().splitlines()[0]
        record = json.loads(first)
        assert record["level"] == "info" and "listening" in record["msg"], record

        def warned():
            with open(e.stderr_path, "rb") as f:
                raw = f.read()
            return [line for line in raw.splitlines() if b"invalid_utf8" in line]
        lines = wait_until(warned, what="the skipped line's warning")
        for line in lines:
            record = json.loads(line.decode("utf-8"))  # strict: raises on bytes that are not UTF-8
            assert record["level"] in ("warn", "warning") and "\\xff" in record["msg"], record


if __name__ == "__main__":
    run_tests([test_help_and_version, test_usage_errors_exit_2, test_errors_name_the_command_they_belong_to,
               test_state_file_in_a_missing_directory_exits_2, test_replay_exposition_has_no_process_metrics,
               test_unreadable_path_exits_2_naming_it,
               test_busy_port_exits_2, test_bad_listen_address_exits_2,
               test_serve_answers_and_sigterm_exits_0, test_listening_address_is_logged_at_any_level,
               test_json_log_format])
