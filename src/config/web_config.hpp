// The web configuration file (--web.config.file) in the format of the
// Prometheus exporter-toolkit, read as node_exporter reads it: TLS with
// optional client certificates, basic auth users with bcrypt hashes, and
// extra response headers. Mistakes are ConfigErrors at FILE:LINE:COLUMN.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/yaml_reader.hpp"

namespace ailog {

// Go's crypto/tls names, as the exporter-toolkit takes them.
enum class ClientAuth { None, Request, RequireAny, VerifyIfGiven, RequireAndVerify };

struct TlsVersion {
    int major = 3, minor = 3;  // TLS 1.2 is 3.3, TLS 1.3 is 3.4
    bool operator<=(const TlsVersion& o) const { return major < o.major || (major == o.major && minor <= o.minor); }
    bool operator==(const TlsVersion&) const = default;
};

struct TlsServerConfig {
    // Paths as written, resolved against the web config file's directory.
    std::string cert_file;
    std::string key_file;
    std::string client_ca_file;  // empty: none
    ClientAuth client_auth = ClientAuth::None;
    TlsVersion min_version{3, 3};
    TlsVersion max_version{3, 4};
    std::vector<std::string> cipher_suites;  // Go names; empty: GnuTLS's defaults
    bool prefer_server_cipher_suites = true;

    // The GnuTLS priority string of the versions and cipher suites.
    std::string gnutls_priorities() const;
};

struct WebConfig {
    bool tls = false;
    TlsServerConfig tls_server;
    std::vector<std::pair<std::string, std::string>> users;    // user -> bcrypt hash, sorted by user
    std::vector<std::pair<std::string, std::string>> headers;  // sent with every answer
    // rate_limit: one request per interval after a burst; 0 ms: no limit.
    double rate_limit_interval_ms = 0;
    unsigned rate_limit_burst = 0;
};

// Throws ConfigError listing every mistake. `file_name` names the file in
// messages and gives the directory relative paths are resolved against.
WebConfig load_web_config(std::string_view yaml, const std::string& file_name);
WebConfig load_web_config_file(const std::string& path);

}  // namespace ailog
