#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "config/web_config.hpp"
#include "test_util.hpp"

using namespace ailog;

namespace {

constexpr const char* kHash = "$2b$04$/bcuA1kP7MQhpWsShNQKSOGpjNd6z9F3H7pC/Twb7wwhTLroUz3AW";
constexpr const char* kPem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

std::vector<std::string> problems_of(const std::string& yaml, const std::string& file = "web.yml") {
    try {
        load_web_config(yaml, file);
        return {};
    } catch (const ConfigError& e) {
        return e.problems();
    }
}

}  // namespace

TEST_CASE("a web config with TLS, client certificates, users and headers") {
    test::TempDir dir("webcfg");
    dir.file("tls/server.crt", kPem);
    dir.file("tls/server.key", "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n");
    dir.file("tls/ca.crt", kPem);
    const std::string path = dir.file("web.yml", std::string(R"(tls_server_config:
  cert_file: tls/server.crt
  key_file: tls/server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: tls/ca.crt
  min_version: TLS13
http_server_config:
  headers:
    X-Frame-Options: deny
basic_auth_users:
  zoe: )") + kHash + "\n  adam: " + kHash + "\n");
    const WebConfig c = load_web_config_file(path);
    CHECK(c.tls);
    // Relative to the file's directory, as node_exporter resolves them.
    CHECK(c.tls_server.cert_file == dir.path("tls/server.crt"));
    CHECK(c.tls_server.key_file == dir.path("tls/server.key"));
    CHECK(c.tls_server.client_ca_file == dir.path("tls/ca.crt"));
    CHECK(c.tls_server.client_auth == ClientAuth::RequireAndVerify);
    CHECK(c.tls_server.min_version == TlsVersion{3, 4});
    CHECK(c.tls_server.gnutls_priorities() == "NORMAL:-VERS-ALL:+VERS-TLS1.3:%SERVER_PRECEDENCE");
    REQUIRE(c.users.size() == 2);
    CHECK(c.users[0].first == "adam");
    CHECK(c.users[1].first == "zoe");
    CHECK(c.users[1].second == kHash);
    REQUIRE(c.headers.size() == 1);
    CHECK(c.headers[0].second == "deny");
}

TEST_CASE("an empty web config is no TLS and no users; TLS is on once a certificate is named") {
    const WebConfig c = load_web_config("", "web.yml");
    CHECK_FALSE(c.tls);
    CHECK(c.users.empty());
    CHECK(load_web_config("basic_auth_users:\n", "web.yml").users.empty());
    // As in the exporter-toolkit: versions or suites alone leave plain HTTP.
    CHECK_FALSE(load_web_config("tls_server_config:\n  min_version: TLS13\n", "web.yml").tls);
    CHECK_FALSE(load_web_config("tls_server_config: {}\n", "web.yml").tls);
    const WebConfig limited = load_web_config("rate_limit:\n  burst: 5\n  interval: 100ms\n", "web.yml");
    CHECK(limited.rate_limit_interval_ms == 100);
    CHECK(limited.rate_limit_burst == 5);
    CHECK(load_web_config("rate_limit:\n  burst: 5\n", "web.yml").rate_limit_interval_ms == 0);
}

TEST_CASE("cipher suites become GnuTLS key exchanges, ciphers and MACs; TLS 1.3 stays whole") {
    TlsServerConfig t;
    t.cipher_suites = {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"};
    CHECK(t.gnutls_priorities() ==
          "NORMAL:-VERS-ALL:+VERS-TLS1.2:+VERS-TLS1.3:-KX-ALL:-CIPHER-ALL:-MAC-ALL:+ECDHE-ECDSA:+ECDHE-RSA:"
          "+AES-128-GCM:+AES-256-CBC:+AES-256-GCM:+CHACHA20-POLY1305:+AEAD:+SHA1:%SERVER_PRECEDENCE");
    t.max_version = {3, 3};
    t.prefer_server_cipher_suites = false;
    CHECK(t.gnutls_priorities() ==
          "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:-CIPHER-ALL:-MAC-ALL:+ECDHE-ECDSA:+ECDHE-RSA:+AES-128-GCM:"
          "+AES-256-CBC:+AEAD:+SHA1");
}

TEST_CASE("each mistake of a web config at its line and column") {
    struct Case {
        std::string yaml;
        std::string want;  // the start of the only problem
    };
    const std::string user = std::string("basic_auth_users:\n  prometheus: ") + kHash + "\n";
    const std::vector<Case> cases = {
        {"tls_server_confg: {}\n",
         "web.yml:1:1: unknown key tls_server_confg in the web config (did you mean "
         "tls_server_config?)"},
        {"basic_auth_users:\n  prometheus: secret\n", "web.yml:2:15: the password of prometheus is not a bcrypt"},
        {"basic_auth_users:\n  prometheus: $1$abc$def\n", "web.yml:2:15: the password of prometheus is not"},
        {"basic_auth_users: [a, b]\n", "web.yml:1:19: basic_auth_users must be a map"},
        {"basic_auth_users:\n  \"a:b\": x\n", "web.yml:2:3: a user name is not empty and has no colon"},
        {"http_server_config:\n  headers:\n    Server: nginx\n", "web.yml:3:5: header Server cannot be set"},
        {"http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
         "web.yml:3:22: X-Frame-Options must be deny or sameorigin"},
        {"http_server_config:\n  headers:\n    X-Content-Type-Options: sniff\n",
         "web.yml:3:29: X-Content-Type-Options must be nosniff"},
        {"http_server_config:\n  http3: true\n", "web.yml:2:3: unknown key http3 in http_server_config"},
        {"tls_server_config:\n  key_file: /nonexistent/k.pem\n", "web.yml:2:3: tls_server_config needs cert_file"},
        {"tls_server_config:\n  cert_file: /nonexistent/c.pem\n  key_file: /nonexistent/k.pem\n",
         "web.yml:2:14: cert_file /nonexistent/c.pem: cannot read: No such file or directory"},
        {"tls_server_config:\n  cert_file: /dev/null\n  key_file: /dev/null\n  client_auth_type: Maybe\n",
         "web.yml:4:21: client_auth_type Maybe is not one of NoClientCert"},
        {"tls_server_config:\n  cert_file: /dev/null\n  key_file: /dev/null\n  min_version: TLS14\n",
         "web.yml:4:16: min_version TLS14 is not one of TLS10, TLS11, TLS12, TLS13"},
        {"tls_server_config:\n  cert_file: /dev/null\n  key_file: /dev/null\n  cipher_suites: [TLS_FAST]\n",
         "web.yml:4:19: unknown cipher suite TLS_FAST"},
        {"tls_server_config:\n  cert_file: /dev/null\n  key_file: /dev/null\n  cert: abc\n",
         "web.yml:4:9: cert is not supported by ailog_exporter (use cert_file)"},
        {"rate_limit: {burst: 1, interval: soon}\n", "web.yml:1:34: interval soon is not a duration"},
        {"rate_limit: {burst: -1, interval: 1s}\n", "web.yml:1:21: burst must be a whole number"},
        {"tls_server_config:\n  cert_file: /dev/null\n  key_file: /dev/null\n  max_version: TLS11\n",
         "web.yml:4:16: min_version is above max_version"},
        {"tls_server_config:\n  cert_file: /dev/null\n  key_file: /dev/null\n  cipher_suites: {a: b}\n",
         "web.yml:4:18: cipher_suites must be a list"},
        {"tls_server_config: [\n", "web.yml:2:1: "},
    };
    test::TempDir dir("webcfg-mistakes");
    const std::string pem = dir.file("c.crt", kPem);
    for (const auto& c : cases) {
        std::string yaml = c.yaml;
        for (size_t at; (at = yaml.find("/dev/null")) != std::string::npos;) yaml.replace(at, 9, pem);
        CAPTURE(yaml);
        const auto p = problems_of(yaml);
        REQUIRE(!p.empty());
        CHECK(p[0].rfind(c.want, 0) == 0);
        if (p[0].rfind(c.want, 0) != 0) MESSAGE(p[0]);
    }
    // Reported together, each with its own position.
    const auto p = problems_of(user + "http_server_config:\n  headers:\n    Server: x\n    X-Frame-Options: no\n");
    CHECK(p.size() == 2);
}

TEST_CASE("client certificates: a CA needs a client auth type, verifying needs a CA") {
    test::TempDir dir("webcfg-ca");
    const std::string crt = dir.file("c.crt", kPem);
    const std::string base = "tls_server_config:\n  cert_file: " + crt + "\n  key_file: " + crt + "\n";
    auto p = problems_of(base + "  client_ca_file: " + crt + "\n");
    REQUIRE(p.size() == 1);
    CHECK(p[0].find("web.yml:4:19: client_ca_file is set but client_auth_type") == 0);
    p = problems_of(base + "  client_auth_type: RequireAndVerifyClientCert\n");
    REQUIRE(p.size() == 1);
    CHECK(p[0].find("verifying client certificates needs client_ca_file") != std::string::npos);
    CHECK(problems_of(base + "  client_auth_type: RequireAnyClientCert\n").empty());
    // A file that is not PEM.
    const std::string junk = dir.file("junk.crt", "hello\n");
    p = problems_of("tls_server_config:\n  cert_file: " + junk + "\n  key_file: " + crt + "\n");
    REQUIRE(p.size() == 1);
    CHECK(p[0].find("not PEM") != std::string::npos);
}
