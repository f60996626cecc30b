"""The HTTP endpoint under hostile and unlucky clients, and secured with
--web.config.file: a thousand half-sent requests do not keep a scrape out,
idle connections are closed after --web.request-timeout, connections beyond
--web.max-connections wait for a slot, connections are kept alive, methods and sizes are
bounded (405, 414, 431), a slow reader holds nothing the pipeline needs;
TLS and basic auth checked with curl and openssl, client certificates,
certificate rotation without a restart, and the real Prometheus scraping
through tls_config and basic_auth."""

import os
import re
import resource
import socket
import ssl
import subprocess
import tempfile
import time

from harness import Exporter, binary, free_port, parse_exposition, run_tests, value, wait_until
from test_monitoring import Prometheus

# bcrypt of "s3cret" at cost 4, and at cost 12 (about a quarter of a second each).
HASH = "$2b$04$/bcuA1kP7MQhpWsShNQKSOGpjNd6z9F3H7pC/Twb7wwhTLroUz3AW"
SLOW_HASH = "$2b$12$ac1T6pWPlHLFbG5x7dekhuNAVY5SqTJu1fTz.pASQ0X2tniTdhKIW"


def raise_open_files(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def write_log(path, lines):
    with open(path, "a") as f:
        for i in range(lines):
            f.write('{"message":"executeParse - start","requestId":"r%d","capability":"chat","operation":"core",'
                    '"timestamp":"2025-06-01T12:00:00Z"}\n' % i)


def raw(address, request, timeout=10):
    """Sends `request` (bytes) and reads the whole answer until the server closes or the timeout."""
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(request)
        out = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
                if b"\r\n\r\n" in out:
                    head, _, body = out.partition(b"\r\n\r\n")
                    m = re.search(rb"Content-Length: (\d+)", head, re.I)
                    if m and len(body) >= int(m.group(1)):
                        break
        except socket.timeout:
            pass
    return out


def status_of(answer):
    m = re.match(rb"HTTP/1\.[01] (\d{3})", answer)
    assert m, answer[:200]
    return int(m.group(1))


def header_of(answer, name):
    head = answer.partition(b"\r\n\r\n")[0].decode("latin-1")
    m = re.search(rf"^{re.escape(name)}: *(.*?)\r?$", head, re.I | re.M)
    return m.group(1) if m else None


def closed_by_server(s, timeout):
    """Whether the server closes `s` within `timeout` seconds (polled, not slept)."""
    s.settimeout(0.05)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if s.recv(4096) == b"":
                return True
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return True
    return False


def test_a_thousand_half_sent_requests_do_not_keep_a_scrape_out():
    have = raise_open_files(4096)
    assert have >= 1100, f"this test needs 1100 open files, the limit is {have}"
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "app.log")
        write_log(log, 100)
        # Slow connections are not closed during the test: they stay open as long as it wants.
        with Exporter(["--start-at", "beginning", "--web.request-timeout", "60s", log]) as e:
            e.wait_for_lines(100)
            host, port = e.address.rsplit(":", 1)
            held = []
            try:
                for i in range(1000):
                    s = socket.create_connection((host, int(port)), timeout=10)
                    if i % 2 == 0:
                        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nUser-Ag")  # half a request
                    held.append(s)
                start = time.monotonic()
                samples = e.samples()
                took = time.monotonic() - start
                assert value(samples, "ailog_exporter_lines_read_total") == 100
                # Each of them still open: none was closed to make room.
                assert not any(closed_by_server(s, 0) for s in held[:50])
                print(f"     a scrape with 1000 slow connections open took {took * 1000:.1f} ms", flush=True)
            finally:
                for s in held:
                    s.close()


def test_idle_and_slow_connections_are_closed_after_the_request_timeout():
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "app.log")
        write_log(log, 1)
        with Exporter(["--web.request-timeout", "1s", log]) as e:
            host, port = e.address.rsplit(":", 1)
            idle = socket.create_connection((host, int(port)))
            half = socket.create_connection((host, int(port)))
            half.sendall(b"GET /metrics HTTP/1.1\r\nHost:")
            try:
                assert closed_by_server(idle, 15), "an idle connection stayed open"
                assert closed_by_server(half, 15), "a half-sent request stayed open"
            finally:
                idle.close()
                half.close()
            assert e.samples()  # still serving


def test_connections_are_bounded():
    """Beyond --web.max-connections, a new connection waits in the listen
    backlog until a slot frees; then it is answered."""
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "app.log")
        write_log(log, 1)
        with Exporter(["--web.max-connections", "20", "--web.request-timeout", "60s", log]) as e:
            host, port = e.address.rsplit(":", 1)
            held = [socket.create_connection((host, int(port))) for _ in range(20)]
            extra = socket.create_connection((host, int(port)))
            try:
                extra.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                extra.settimeout(1)
                try:
                    early = extra.recv(4096)
                except socket.timeout:
                    early = None
                assert early is None, f"answered beyond the limit: {early!r}"
                for s in held:
                    s.close()
                extra.settimeout(15)
                assert status_of(extra.recv(4096)) == 200
            finally:
                for s in held:
                    s.close()
                extra.close()


def test_keep_alive():
    """Prometheus keeps its connection: several requests, one connection."""
    def read_answer(s):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            assert chunk, f"the connection was closed after {data[:100]!r}"
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(re.search(rb"Content-Length: (\d+)", head, re.I).group(1))
        while len(body) < length:
            chunk = s.recv(65536)
            assert chunk, "the connection was closed inside an answer"
            body += chunk
        return status_of(head), body

    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "app.log")
        write_log(log, 1)
        with Exporter([log]) as e:
            host, port = e.address.rsplit(":", 1)
            with socket.create_connection((host, int(port)), timeout=10) as s:
                for _ in range(3):
                    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                    status, body = read_answer(s)
                    assert status == 200 and b"ailog_exporter_lines_read_total" in body
                # A request with a body: read, dropped, answered; the connection stays.
                for _ in range(2):
                    s.sendall(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000)
                    assert read_answer(s)[0] == 405
                s.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
                assert read_answer(s)[0] == 200


def test_methods_paths_and_sizes():
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "app.log")
        write_log(log, 1)
        with Exporter(["--start-at", "beginning", log]) as e:
            e.wait_for_lines(1)
            close = b"Host: x\r\nConnection: close\r\n"
            for method in (b"DELETE", b"POST", b"PUT", b"OPTIONS", b"PATCH", b"TRACE"):
                a = raw(e.address, method + b" /metrics HTTP/1.1\r\n" + close + b"Content-Length: 0\r\n\r\n")
                assert status_of(a) == 405, (method, a[:200])
                assert header_of(a, "Allow") == "GET, HEAD", a[:300]
            a = raw(e.address, b"GET /-/reload HTTP/1.1\r\n" + close + b"\r\n")
            assert status_of(a) == 405 and header_of(a, "Allow") == "POST, PUT", a[:300]
            for path in (b"/../../etc/passwd", b"/metrics/../metrics", b"//metrics", b"/etc/passwd", b"/static/"):
                assert status_of(raw(e.address, b"GET " + path + b" HTTP/1.1\r\n" + close + b"\r\n")) == 404, path
            a = raw(e.address, b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n" + close + b"\r\n")
            assert status_of(a) == 414, a[:200]
            headers = b"".join(b"X-Filler-%d: %s\r\n" % (i, b"b" * 100) for i in range(200))
            a = raw(e.address, b"GET /metrics HTTP/1.1\r\n" + close + headers + b"\r\n")
            assert status_of(a) == 431, a[:200]
            a = raw(e.address, b"HEAD /metrics HTTP/1.1\r\n" + close + b"\r\n")
            assert status_of(a) == 200 and int(header_of(a, "Content-Length")) > 0, a[:300]
            assert a.partition(b"\r\n\r\n")[2] == b"", "HEAD answered with a body"
            assert e.samples()


def test_a_slow_reader_of_a_large_exposition_holds_nothing():
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "app.log")
        # Many series make the exposition larger than the sockets' buffers.
        with open(log, "w") as f:
            for i in range(8000):
                f.write('{"message":"executeParse - succeeded","requestId":"r%d","capability":"cap%d",'
                        '"operation":"op%d","timestamp":"2025-06-01T12:00:00Z","result":{"durationMs":%d,'
                        '"usage":{"tokens":{"input":1,"output":2}}}}\n' % (i, i % 2000, i % 2, i))
        with Exporter(["--start-at", "beginning", "--metrics.max-series", "100000", "--web.request-timeout", "60s",
                       log]) as e:
            e.wait_for_lines(8000)
            size = len(e.scrape())
            host, port = e.address.rsplit(":", 1)
            slow = socket.socket()
            slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            slow.connect((host, int(port)))
            slow.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            got = slow.recv(1)
            try:
                # While it reads a byte at a time, lines go on being counted
                # and other scrapes are answered with them.
                for round_ in range(1, 6):
                    write_log(log, 100)
                    e.wait_for_lines(8000 + 100 * round_, timeout=10)
                    got += slow.recv(1)
                print(f"     exposition of {size} bytes; the slow reader had {len(got)} of it while 5 rounds of "
                      "lines were counted and scraped", flush=True)
                assert len(got) < size
            finally:
                slow.close()


# ---------------------------------------------------------------------------
# TLS and authentication


def openssl(*args):
    r = subprocess.run(["openssl", *args], capture_output=True)
    assert r.returncode == 0, r.stderr.decode()


def ca(d, name):
    key, crt = os.path.join(d, name + ".key"), os.path.join(d, name + ".crt")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
            "-out", crt, "-days", "2", "-subj", f"/CN={name}")
    return crt, key


def signed(d, name, ca_pair, server=False):
    """A certificate for `name` signed by ca_pair; a server one for 127.0.0.1."""
    key, csr, crt = (os.path.join(d, name + x) for x in (".key", ".csr", ".crt"))
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
            "-out", csr, "-subj", f"/CN={name}")
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n" if server else "extendedKeyUsage=clientAuth\n")
    openssl("x509", "-req", "-in", csr, "-CA", ca_pair[0], "-CAkey", ca_pair[1], "-CAcreateserial", "-out", crt,
            "-days", "2", "-extfile", ext)
    return crt, key


def curl(url, *args):
    """(curl's exit code, HTTP status or 0, headers text, body)."""
    r = subprocess.run(["curl", "-sS", "-D", "-", "--max-time", "10", *args, url], capture_output=True)
    out = r.stdout.decode("utf-8", "replace")
    head, _, body = out.partition("\r\n\r\n")
    m = re.match(r"HTTP/[0-9.]+ (\d{3})", head)
    return r.returncode, int(m.group(1)) if m else 0, head, body


def web_config(d, text, name="web.yml"):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def test_tls_and_basic_auth_with_curl():
    with tempfile.TemporaryDirectory() as d:
        authority = ca(d, "ca")
        crt, key = signed(d, "server", authority, server=True)
        cfg = web_config(d, f"""tls_server_config:
  cert_file: server.crt
  key_file: server.key
http_server_config:
  headers:
    Strict-Transport-Security: max-age=31536000
basic_auth_users:
  prometheus: {HASH}
""")
        log = os.path.join(d, "app.log")
        write_log(log, 7)
        with Exporter(["--start-at", "beginning", "--web.config.file", cfg, log]) as e:
            url = f"https://{e.address}"
            ca_args = ["--cacert", authority[0]]
            rc, status, head, _ = curl(url + "/metrics", *ca_args)
            assert (rc, status) == (0, 401), (rc, status)
            assert re.search(r"^WWW-Authenticate: Basic", head, re.I | re.M), head
            for user in ("prometheus:wrong", "nobody:s3cret", "prometheus:"):
                assert curl(url + "/metrics", *ca_args, "-u", user)[1] == 401, user
            for path in ("/-/healthy", "/-/ready", "/"):
                assert curl(url + path, *ca_args)[1] == 401, path
                assert curl(url + path, *ca_args, "-u", "prometheus:s3cret")[1] in (200, 503), path

            def counted():
                rc, status, head, body = curl(url + "/metrics", *ca_args, "-u", "prometheus:s3cret")
                assert (rc, status) == (0, 200), (rc, status, body[:200])
                assert re.search(r"^Strict-Transport-Security: max-age=31536000", head, re.I | re.M), head
                return value(parse_exposition(body), "ailog_exporter_lines_read_total") == 7
            wait_until(counted, what="7 lines read, over TLS")
            # Plain HTTP on the TLS port gets no answer; nor does a client that does not trust the CA.
            rc, status, _, _ = curl(f"http://{e.address}/metrics", "-u", "prometheus:s3cret")
            assert status == 0 and rc != 0, (rc, status)
            rc, status, _, _ = curl(url + "/metrics", "-u", "prometheus:s3cret")
            assert rc == 60 and status == 0, (rc, status)  # curl: peer certificate cannot be authenticated
            # min_version: TLS 1.2 is the default floor; TLS 1.1 is refused.
            rc, _, _, _ = curl(url + "/metrics", *ca_args, "--tls-max", "1.1", "-u", "prometheus:s3cret")
            assert rc != 0


def test_password_guesses_do_not_hold_up_scrapes():
    """A flood of wrong passwords costs a bcrypt each, on a thread of its
    own: a scraper whose credentials are remembered is answered meanwhile."""
    import base64
    import threading
    with tempfile.TemporaryDirectory() as d:
        cfg = web_config(d, f"basic_auth_users:\n  prometheus: {SLOW_HASH}\n")
        log = os.path.join(d, "app.log")
        write_log(log, 1)
        with Exporter(["--web.config.file", cfg, log]) as e:
            def request(password):
                token = base64.b64encode(f"prometheus:{password}".encode()).decode()
                return status_of(raw(e.address, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                                b"Authorization: Basic " + token.encode() + b"\r\n\r\n", timeout=60))
            assert request("s3cret") == 200  # one bcrypt; then remembered
            answered = []
            sent = []
            lock = threading.Lock()
            host, port = e.address.rsplit(":", 1)

            def guess(i):
                token = base64.b64encode(f"prometheus:guess{i}".encode())
                with socket.create_connection((host, int(port)), timeout=60) as s:
                    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                              b"Authorization: Basic " + token + b"\r\n\r\n")
                    with lock:
                        sent.append(i)
                    data = b""
                    while not data.endswith(b"\n"):
                        chunk = s.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                with lock:
                    answered.append(status_of(data))
            flood = [threading.Thread(target=guess, args=(i,)) for i in range(16)]
            for t in flood:
                t.start()
            wait_until(lambda: len(sent) == 16, what="the guesses sent")
            good = [request("s3cret") for _ in range(5)]
            with lock:
                done_when_good = len(answered)
            for t in flood:
                t.join()
            assert good == [200] * 5
            assert answered == [401] * 16
            # 16 bcrypts at cost 12 take seconds one after another; the scrapes did not wait for them.
            assert done_when_good <= 8, f"the good scrapes came after {done_when_good} of 16 guesses"
            print(f"     5 scrapes answered while {16 - done_when_good} of 16 guesses were still waiting", flush=True)


def test_client_certificates():
    with tempfile.TemporaryDirectory() as d:
        authority = ca(d, "ca")
        signed(d, "server", authority, server=True)
        good = signed(d, "scraper", authority)
        stranger = ca(d, "stranger")  # self-signed, by no CA the server trusts
        log = os.path.join(d, "app.log")
        write_log(log, 1)
        base = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_ca_file: ca.crt\n"
        for auth, without, with_good, with_stranger in (
                ("RequireAndVerifyClientCert", False, True, False),
                ("VerifyClientCertIfGiven", True, True, False),
                ("RequireAnyClientCert", False, True, True)):
            cfg = web_config(d, base + f"  client_auth_type: {auth}\n")
            with Exporter(["--web.config.file", cfg, log]) as e:
                url = f"https://{e.address}/-/healthy"
                ca_args = ["--cacert", authority[0]]
                got = (curl(url, *ca_args)[1] == 200,
                       curl(url, *ca_args, "--cert", good[0], "--key", good[1])[1] == 200,
                       curl(url, *ca_args, "--cert", stranger[0], "--key", stranger[1])[1] == 200)
                assert got == (without, with_good, with_stranger), (auth, got)


def served_certificate(address):
    host, port = address.rsplit(":", 1)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, int(port)), timeout=10) as s:
        with ctx.wrap_socket(s) as t:
            return t.getpeercert(binary_form=True)


def test_a_rotated_certificate_is_served_without_a_restart():
    with tempfile.TemporaryDirectory() as d:
        authority = ca(d, "ca")
        signed(d, "server", authority, server=True)
        cfg = web_config(d, "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n")
        log = os.path.join(d, "app.log")
        write_log(log, 1)
        with Exporter(["--web.config.file", cfg, log]) as e:
            first = served_certificate(e.address)
            # A broken file in its place: the previous certificate stays.
            with open(os.path.join(d, "server.crt"), "w") as f:
                f.write("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
            # Looked at when a client connects, at most once a second.
            def refused():
                assert served_certificate(e.address) == first
                return "TLS certificate not reloaded" in e.stderr()
            wait_until(refused, timeout=15, interval=0.2, what="the broken certificate refused")
            # A new pair, written as cert-manager or certbot would.
            new_dir = os.path.join(d, "new")
            os.mkdir(new_dir)
            crt, key = signed(new_dir, "server", authority, server=True)
            os.replace(key, os.path.join(d, "server.key"))
            os.replace(crt, os.path.join(d, "server.crt"))
            wait_until(lambda: served_certificate(e.address) != first, timeout=15, what="the new certificate served")
            rc, status, _, _ = curl(f"https://{e.address}/-/healthy", "--cacert", authority[0])
            assert (rc, status) == (0, 200)


def test_prometheus_scrapes_through_tls_and_basic_auth():
    with tempfile.TemporaryDirectory() as d:
        authority = ca(d, "ca")
        signed(d, "server", authority, server=True)
        cfg = web_config(d, f"tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
                            f"basic_auth_users:\n  prometheus: {HASH}\n")
        log = os.path.join(d, "app.log")
        write_log(log, 42)
        with Exporter(["--start-at", "beginning", "--web.config.file", cfg, log]) as e:
            def job(name, password):
                return f"""  - job_name: {name}
    scrape_interval: 1s
    scheme: https
    tls_config:
      ca_file: {authority[0]}
    basic_auth:
      username: prometheus
      password: {password}
    static_configs:
      - targets: ["{e.address}"]
"""
            config = "global:\n  scrape_interval: 1s\nscrape_configs:\n" + job("ailog", "s3cret") + \
                job("wrong_password", "guess")
            prom = Prometheus(d, e.address, config_text=config)
            try:
                def scraped():
                    up = {r["metric"]["job"]: r["value"][1] for r in prom.query("up")}
                    lines = prom.query('ailog_exporter_lines_read_total{job="ailog"}')
                    return up.get("ailog") == "1" and up.get("wrong_password") == "0" and lines and \
                        lines[0]["value"][1] == "42"
                wait_until(scraped, timeout=60, interval=0.5, what="prometheus scraping over TLS with basic auth")
            finally:
                prom.stop()


def test_a_bad_web_config_exits_2_naming_the_file():
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "app.log")
        write_log(log, 1)
        authority = ca(d, "ca")
        other = ca(d, "other")
        cases = [
            (os.path.join(d, "missing.yml"), "missing.yml: cannot read"),
            (web_config(d, "basic_auth_users:\n  prometheus: s3cret\n", "users.yml"),
             "users.yml:2:15: the password of prometheus"),
            (web_config(d, "tls_server_config:\n  cert_file: ca.crt\n  key_file: other.key\n", "tls.yml"),
             "is not the key of the certificate"),
            (web_config(d, "tls_server_config:\n  cert_file: ca.crt\n  key_fle: ca.key\n", "typo.yml"),
             "typo.yml:3:3: unknown key key_fle in tls_server_config (did you mean key_file?)"),
        ]
        for path, want in cases:
            port = free_port()
            r = subprocess.run([binary(), "serve", "--web.listen-address", f"127.0.0.1:{port}", "--web.config.file",
                                path, log], capture_output=True, timeout=15, stdin=subprocess.DEVNULL)
            err = r.stderr.decode()
            assert r.returncode == 2, (path, r.returncode, err)
            assert want in err, (want, err)
            assert "listening" not in err, err
        del authority, other


if __name__ == "__main__":
    run_tests([test_a_thousand_half_sent_requests_do_not_keep_a_scrape_out,
               test_idle_and_slow_connections_are_closed_after_the_request_timeout,
               test_connections_are_bounded,
               test_keep_alive,
               test_methods_paths_and_sizes,
               test_a_slow_reader_of_a_large_exposition_holds_nothing,
               test_tls_and_basic_auth_with_curl,
               test_password_guesses_do_not_hold_up_scrapes,
               test_client_certificates,
               test_a_rotated_certificate_is_served_without_a_restart,
               test_prometheus_scrapes_through_tls_and_basic_auth,
               test_a_bad_web_config_exits_2_naming_the_file])
