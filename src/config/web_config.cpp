// WebConfig: the exporter-toolkit YAML read with positions for every mistake.
#include "config/web_config.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>

#include "common/duration.hpp"

namespace ailog {

using namespace std::string_view_literals;
namespace {

struct SuiteParts {
    std::string_view go_name;
    std::string_view kx;  // empty: a TLS 1.3 suite
    std::string_view cipher;
    std::string_view mac;
};

// Go's crypto/tls suite names and their GnuTLS key exchange, cipher and MAC.
constexpr std::array kSuites = {
    SuiteParts{"TLS_RSA_WITH_AES_128_CBC_SHA", "RSA", "AES-128-CBC", "SHA1"},
    SuiteParts{"TLS_RSA_WITH_AES_256_CBC_SHA", "RSA", "AES-256-CBC", "SHA1"},
    SuiteParts{"TLS_RSA_WITH_AES_128_GCM_SHA256", "RSA", "AES-128-GCM", "AEAD"},
    SuiteParts{"TLS_RSA_WITH_AES_256_GCM_SHA384", "RSA", "AES-256-GCM", "AEAD"},
    SuiteParts{"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA", "AES-128-CBC", "SHA1"},
    SuiteParts{"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA", "AES-256-CBC", "SHA1"},
    SuiteParts{"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA", "AES-128-CBC", "SHA1"},
    SuiteParts{"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA", "AES-256-CBC", "SHA1"},
    SuiteParts{"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE-ECDSA", "AES-128-CBC", "SHA256"},
    SuiteParts{"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE-RSA", "AES-128-CBC", "SHA256"},
    SuiteParts{"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA", "AES-128-GCM", "AEAD"},
    SuiteParts{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA", "AES-128-GCM", "AEAD"},
    SuiteParts{"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA", "AES-256-GCM", "AEAD"},
    SuiteParts{"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA", "AES-256-GCM", "AEAD"},
    SuiteParts{"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA", "CHACHA20-POLY1305", "AEAD"},
    SuiteParts{"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA", "CHACHA20-POLY1305", "AEAD"},
    SuiteParts{"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "ECDHE-ECDSA", "CHACHA20-POLY1305", "AEAD"},
    SuiteParts{"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "ECDHE-RSA", "CHACHA20-POLY1305", "AEAD"},
    // TLS 1.3's suites are always on, as in Go; listing them changes nothing.
    SuiteParts{"TLS_AES_128_GCM_SHA256", "", "AES-128-GCM", "AEAD"},
    SuiteParts{"TLS_AES_256_GCM_SHA384", "", "AES-256-GCM", "AEAD"},
    SuiteParts{"TLS_CHACHA20_POLY1305_SHA256", "", "CHACHA20-POLY1305", "AEAD"},
};

const SuiteParts* find_suite(std::string_view name) {
    for (const auto& s : kSuites)
        if (s.go_name == name) return &s;
    return nullptr;
}

struct VersionName {
    std::string_view name;
    TlsVersion version;
    std::string_view gnutls;
};
constexpr std::array kVersions = {
    VersionName{"TLS10", {3, 1}, "VERS-TLS1.0"},
    VersionName{"TLS11", {3, 2}, "VERS-TLS1.1"},
    VersionName{"TLS12", {3, 3}, "VERS-TLS1.2"},
    VersionName{"TLS13", {3, 4}, "VERS-TLS1.3"},
};

struct AuthName {
    std::string_view name;
    ClientAuth auth;
};
constexpr std::array kClientAuths = {
    AuthName{"NoClientCert", ClientAuth::None},
    AuthName{"RequestClientCert", ClientAuth::Request},
    AuthName{"RequireAnyClientCert", ClientAuth::RequireAny},
    AuthName{"RequireClientCert", ClientAuth::RequireAny},  // the exporter-toolkit's older name
    AuthName{"VerifyClientCertIfGiven", ClientAuth::VerifyIfGiven},
    AuthName{"RequireAndVerifyClientCert", ClientAuth::RequireAndVerify},
};

// Response headers a web config may set, with their allowed values (none:
// any), as the exporter-toolkit allows them.
struct HeaderRule {
    std::string_view name;
    std::array<std::string_view, 2> values;
};
constexpr std::array kHeaders = {
    HeaderRule{"Strict-Transport-Security", {}},
    HeaderRule{"X-Content-Type-Options", {"nosniff", {}}},
    HeaderRule{"X-Frame-Options", {"deny", "sameorigin"}},
    HeaderRule{"X-XSS-Protection", {}},
    HeaderRule{"Content-Security-Policy", {}},
};

std::string joined(auto names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + std::string(n.name);
    return out;
}

class WebConfigLoader : public YamlReader {
public:
    WebConfigLoader(const std::string& file) : YamlReader(file), dir_(std::filesystem::path(file).parent_path()) {}

    WebConfig load(const YAML::Node& root) {
        if (!root || root.IsNull()) return c_;  // an empty file: as without one
        if (!keys(root, "the web config",
                  {"tls_server_config", "http_server_config", "basic_auth_users", "rate_limit"}))
            return c_;
        rate_limit(root["rate_limit"]);
        tls(root["tls_server_config"]);
        http(root["http_server_config"]);
        users(root["basic_auth_users"]);
        return c_;
    }

private:
    std::string path(const YAML::Node& parent, const char* key) {
        const YAML::Node n = parent[key];
        if (!n || n.IsNull()) return {};
        const auto t = text(n, std::string_view(key));
        if (!t || t->empty()) return {};
        const std::filesystem::path p(*t);
        return p.is_absolute() || dir_.empty() ? p.string() : (dir_ / p).string();
    }

    TlsVersion version(const YAML::Node& n, const char* what) {
        const auto t = text(n, std::string_view(what));
        for (const auto& v : kVersions)
            if (t && *t == v.name) return v.version;
        if (t) error(n, fmt::format("{} {} is not one of {}", what, *t, joined(kVersions)));
        return {};
    }

    void tls(const YAML::Node& n) {
        if (!n || n.IsNull()) return;
        if (!keys(n, "tls_server_config",
                  {"cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version", "max_version",
                   "cipher_suites", "prefer_server_cipher_suites", "cert", "key", "client_ca", "curve_preferences",
                   "client_allowed_sans"}))
            return;
        for (const char* k : {"cert", "key", "client_ca", "curve_preferences", "client_allowed_sans"})
            if (const YAML::Node x = n[k])
                error(x, fmt::format("{} is not supported by ailog_exporter{}", k,
                                     std::string_view(k).size() <= 9 ? fmt::format(" (use {}_file)", k) : ""));
        TlsServerConfig& t = c_.tls_server;
        t.cert_file = path(n, "cert_file");
        t.key_file = path(n, "key_file");
        t.client_ca_file = path(n, "client_ca_file");
        // As the exporter-toolkit has it: TLS is on once a certificate, a key,
        // a client CA or a client auth type is given.
        const YAML::Node auth_type = n["client_auth_type"];
        c_.tls = !t.cert_file.empty() || !t.key_file.empty() || !t.client_ca_file.empty() ||
                 (auth_type && auth_type.IsScalar() && !auth_type.Scalar().empty());
        if (c_.tls && t.cert_file.empty()) error(n, "tls_server_config needs cert_file");
        if (c_.tls && t.key_file.empty()) error(n, "tls_server_config needs key_file");
        const std::pair<const char*, const std::string&> files[] = {
            {"cert_file", t.cert_file}, {"key_file", t.key_file}, {"client_ca_file", t.client_ca_file}};
        for (const auto& [k, file] : files) {
            if (file.empty()) continue;
            std::ifstream in(file, std::ios::binary);
            std::string text(1 << 20, '\0');  // PEM files are small; the start is enough to tell
            if (!in) {
                error(n[k], fmt::format("{} {}: cannot read: {}", k, file, std::strerror(errno)));
                continue;
            }
            in.read(text.data(), static_cast<std::streamsize>(text.size()));
            text.resize(static_cast<size_t>(in.gcount()));
            if (text.empty())
                error(n[k], fmt::format("{} {}: empty", k, file));
            else if (text.find("-----BEGIN ") == std::string::npos)
                error(n[k], fmt::format("{} {}: not PEM (no -----BEGIN line)", k, file));
        }
        if (const YAML::Node a = n["client_auth_type"]) {
            const auto v = text(a, "client_auth_type"sv);
            const auto it = std::find_if(kClientAuths.begin(), kClientAuths.end(),
                                         [&](const AuthName& x) { return v && *v == x.name; });
            if (it != kClientAuths.end())
                t.client_auth = it->auth;
            else if (v && !v->empty())
                error(a, fmt::format("client_auth_type {} is not one of {}", *v, joined(kClientAuths)));
        }
        if (!t.client_ca_file.empty() && t.client_auth == ClientAuth::None)
            error(n["client_ca_file"], "client_ca_file is set but client_auth_type asks for no client certificate");
        if (t.client_ca_file.empty() &&
            (t.client_auth == ClientAuth::VerifyIfGiven || t.client_auth == ClientAuth::RequireAndVerify))
            error(n["client_auth_type"], "verifying client certificates needs client_ca_file");
        if (const YAML::Node v = n["min_version"]) t.min_version = version(v, "min_version");
        if (const YAML::Node v = n["max_version"]) t.max_version = version(v, "max_version");
        if (!(t.min_version <= t.max_version))
            error(n["min_version"] ? n["min_version"] : n["max_version"], "min_version is above max_version");
        if (const YAML::Node s = n["cipher_suites"]; s && !s.IsSequence()) {
            error(s, "cipher_suites must be a list of cipher suite names");
        } else if (s) {
            for (const auto& one : s)
                if (const auto name = text(one, "a cipher suite"sv)) {
                    if (find_suite(*name) == nullptr)
                        error(one, fmt::format("unknown cipher suite {} (Go's crypto/tls names, such as "
                                               "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)",
                                               *name));
                    else
                        t.cipher_suites.push_back(*name);
                }
        }
        if (const YAML::Node p = n["prefer_server_cipher_suites"])
            if (auto b = boolean(p, "prefer_server_cipher_suites")) t.prefer_server_cipher_suites = *b;
    }

    // The exporter-toolkit's rate_limit: at most `burst` requests at once,
    // then one per `interval`.
    void rate_limit(const YAML::Node& n) {
        if (!n || n.IsNull()) return;
        if (!keys(n, "rate_limit", {"burst", "interval"})) return;
        const YAML::Node interval = n["interval"];
        if (!interval) return;  // no interval: no limit, as in the exporter-toolkit
        const auto text = this->text(interval, "interval"sv);
        if (!text) return;
        const std::optional<double> ms = parse_duration_ms(*text);
        if (!ms) return error(interval, fmt::format("interval {} is not a duration such as 100ms or 1s", *text));
        if (*ms <= 0) return;
        c_.rate_limit_interval_ms = *ms;
        c_.rate_limit_burst = 0;
        if (const YAML::Node b = n["burst"]) {
            const auto v = number(b, "burst"sv);
            if (v && (*v < 0 || *v != static_cast<double>(static_cast<long long>(*v)) || *v > 1e9))
                error(b, "burst must be a whole number of requests");
            else if (v)
                c_.rate_limit_burst = static_cast<unsigned>(*v);
        }
    }

    void http(const YAML::Node& n) {
        if (!n || n.IsNull()) return;
        if (!keys(n, "http_server_config", {"headers", "http2"})) return;
        if (const YAML::Node h = n["http2"]) {
            // Accepted for files written for other exporters: HTTP/1.1 is what is served.
            boolean(h, "http2");
        }
        const YAML::Node headers = n["headers"];
        if (!headers || headers.IsNull()) return;
        if (!headers.IsMap()) return error(headers, "headers must be a map of header names to values");
        for (const auto& kv : headers) {
            const auto name = text(kv.first, "a header name"sv);
            const auto value = text(kv.second, "a header value"sv);
            if (!name || !value) continue;
            const auto rule =
                std::find_if(kHeaders.begin(), kHeaders.end(), [&](const HeaderRule& r) { return r.name == *name; });
            if (rule == kHeaders.end()) {
                error(kv.first, fmt::format("header {} cannot be set (one of {})", *name, joined(kHeaders)));
                continue;
            }
            const bool any = rule->values[0].empty();
            if (!any && std::find(rule->values.begin(), rule->values.end(), *value) == rule->values.end()) {
                error(kv.second,
                      fmt::format("{} must be {}", *name,
                                  rule->values[1].empty() ? std::string(rule->values[0])
                                                          : fmt::format("{} or {}", rule->values[0], rule->values[1])));
                continue;
            }
            if (value->find_first_of("\r\n") != std::string::npos) {
                error(kv.second, fmt::format("{} must be one line", *name));
                continue;
            }
            c_.headers.emplace_back(*name, *value);
        }
    }

    void users(const YAML::Node& n) {
        if (!n || n.IsNull()) return;
        if (!n.IsMap()) return error(n, "basic_auth_users must be a map of user names to bcrypt hashes");
        std::set<std::string> seen;
        for (const auto& kv : n) {
            const auto user = text(kv.first, "a user name"sv);
            const auto hash = text(kv.second, "a bcrypt hash"sv);
            if (!user || !hash) continue;
            if (user->empty() || user->find(':') != std::string::npos) {
                error(kv.first, "a user name is not empty and has no colon");
                continue;
            }
            // $2a$, $2b$ or $2y$, a two-digit cost, then 53 characters of salt and hash.
            const bool bcrypt = hash->size() == 60 && (*hash)[0] == '$' && (*hash)[1] == '2' &&
                                std::string_view("aby").find((*hash)[2]) != std::string_view::npos &&
                                (*hash)[3] == '$' && std::isdigit(static_cast<unsigned char>((*hash)[4])) &&
                                std::isdigit(static_cast<unsigned char>((*hash)[5])) && (*hash)[6] == '$' &&
                                std::stoi(hash->substr(4, 2)) >= 4 && std::stoi(hash->substr(4, 2)) <= 31;
            if (!bcrypt) {
                error(kv.second, fmt::format("the password of {} is not a bcrypt hash ($2y$, $2b$ or $2a$; make one "
                                             "with htpasswd -nBC 10 {})",
                                             *user, *user));
                continue;
            }
            if (!seen.insert(*user).second) {
                error(kv.first, fmt::format("user {} is listed twice", *user));
                continue;
            }
            c_.users.emplace_back(*user, *hash);
        }
        std::sort(c_.users.begin(), c_.users.end());
    }

    std::filesystem::path dir_;
    WebConfig c_;
};

}  // namespace

std::string TlsServerConfig::gnutls_priorities() const {
    std::string out = "NORMAL:-VERS-ALL";
    for (const auto& v : kVersions)
        if (min_version <= v.version && v.version <= max_version) out += fmt::format(":+{}", v.gnutls);
    if (!cipher_suites.empty()) {
        // GnuTLS enables key exchanges, ciphers and MACs, not whole suites:
        // the parts of the listed suites, and TLS 1.3's ciphers when it is on.
        std::set<std::string_view> kx, cipher, mac;
        for (const auto& name : cipher_suites)
            if (const SuiteParts* s = find_suite(name); s != nullptr && !s->kx.empty()) {
                kx.insert(s->kx);
                cipher.insert(s->cipher);
                mac.insert(s->mac);
            }
        if (TlsVersion{3, 4} <= max_version) {
            for (const auto& s : kSuites)
                if (s.kx.empty()) cipher.insert(s.cipher), mac.insert(s.mac);
        }
        out += ":-KX-ALL:-CIPHER-ALL:-MAC-ALL";
        for (auto k : kx) out += fmt::format(":+{}", k);
        for (auto c : cipher) out += fmt::format(":+{}", c);
        for (auto m : mac) out += fmt::format(":+{}", m);
    }
    if (prefer_server_cipher_suites) out += ":%SERVER_PRECEDENCE";
    return out;
}

WebConfig load_web_config(std::string_view yaml, const std::string& file_name) {
    const YAML::Node root = parse_yaml(yaml, file_name);
    WebConfigLoader loader(file_name);
    WebConfig c;
    try {
        c = loader.load(root);
    } catch (const YAML::Exception& e) {
        loader.error_at(e.mark.line, e.mark.column, e.msg);
    }
    if (!loader.problems().empty()) throw ConfigError(std::move(loader.problems()));
    return c;
}

WebConfig load_web_config_file(const std::string& path) {
    return load_web_config(read_config_file(path), path);
}

}  // namespace ailog
