"""Command line: help, version, and start-up errors that must exit 2 with one
clear message before anything starts."""

import os
import socket
import subprocess
import tempfile

from harness import Exporter, binary, run_tests


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
    ]
    for args in cases:
        r = run(*args)
        assert r.returncode == 2, (args, r.returncode, r.stderr)
        assert b"error" in r.stderr.lower(), (args, r.stderr)


def test_unreadable_path_exits_2_naming_it():
    r = run("serve", "--web.listen-address", "127.0.0.1:0", "/nonexistent/app.log")
    assert r.returncode == 2
    assert b"/nonexistent/app.log" in r.stderr and b"No such file" in r.stderr, r.stderr
    d = tempfile.mkdtemp()
    path = os.path.join(d, "secret.log")
    open(path, "w").close()
    os.chmod(path, 0)
    if os.geteuid() != 0:  # root reads anything
        r = run("serve", "--web.listen-address", "127.0.0.1:0", path)
        assert r.returncode == 2 and path.encode() in r.stderr


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


def test_default_command_is_serve_and_sigterm_exits_0():
    fd, path = tempfile.mkstemp()
    os.close(fd)
    with Exporter([path]) as e:
        assert e.get("/-/healthy")[0] == 200
        assert e.stop() == 0


def test_json_log_format():
    fd, path = tempfile.mkstemp()
    os.close(fd)
    with Exporter(["--log.format", "json", path]) as e:
        import json
        first = e.stderr().splitlines()[0]
        record = json.loads(first)
        assert record["level"] == "info" and "listening" in record["msg"], record


if __name__ == "__main__":
    run_tests([test_help_and_version, test_usage_errors_exit_2, test_unreadable_path_exits_2_naming_it,
               test_busy_port_exits_2, test_bad_listen_address_exits_2,
               test_default_command_is_serve_and_sigterm_exits_0, test_json_log_format])
