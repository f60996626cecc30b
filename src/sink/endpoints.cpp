// Endpoints: routing, authentication and the answers' bodies.
#include "sink/endpoints.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "sink/gzip.hpp"
#include "version.hpp"

namespace ailog {
namespace {

HttpResponse text(int status, std::string body) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    return r;
}

}  // namespace

namespace {

std::string_view trim(std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    return v;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

// The parts of one comma-separated item of an Accept header: its media
// range and its parameters (name, value) in order.
struct MediaRange {
    std::string_view type;
    std::vector<std::pair<std::string_view, std::string_view>> params;
    double quality = 1;
};

MediaRange parse_media_range(std::string_view item) {
    MediaRange m;
    size_t semi = item.find(';');
    m.type = trim(item.substr(0, semi));
    while (semi != std::string_view::npos) {
        item.remove_prefix(semi + 1);
        semi = item.find(';');
        const std::string_view param = trim(item.substr(0, semi));
        const size_t eq = param.find('=');
        if (eq == std::string_view::npos) continue;
        const std::string_view name = trim(param.substr(0, eq));
        std::string_view value = trim(param.substr(eq + 1));
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
        if (iequals(name, "q")) {
            // RFC 9110, 12.4.2: 0 to 1 with up to three decimals.
            double q = 0;
            const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), q);
            m.quality = ec == std::errc() && end == value.data() + value.size() && q >= 0 && q <= 1 ? q : 0;
        } else {
            m.params.emplace_back(name, value);
        }
    }
    return m;
}

std::string_view param(const MediaRange& m, std::string_view name) {
    for (const auto& [n, v] : m.params)
        if (iequals(n, name)) return v;
    return {};
}

}  // namespace

Exposition negotiate_exposition(std::string_view accept) {
    double best_om = -1, best_text = -1;
    size_t om_at = 0, text_at = 0, at = 0;
    while (!accept.empty()) {
        const size_t comma = accept.find(',');
        const MediaRange m = parse_media_range(accept.substr(0, comma));
        accept.remove_prefix(comma == std::string_view::npos ? accept.size() : comma + 1);
        ++at;
        if (m.quality <= 0) continue;
        const std::string_view version = param(m, "version");
        if (iequals(m.type, "application/openmetrics-text")) {
            if ((version.empty() || version == "1.0.0" || version == "0.0.1") && m.quality > best_om) {
                best_om = m.quality;
                om_at = at;
            }
        } else if (iequals(m.type, "text/plain") || m.type == "text/*" || m.type == "*/*") {
            if ((version.empty() || version == "0.0.4") && m.quality > best_text) {
                best_text = m.quality;
                text_at = at;
            }
        }
    }
    if (best_om < 0) return Exposition::Text;
    if (best_om > best_text || (best_om == best_text && om_at < text_at)) return Exposition::OpenMetrics;
    return Exposition::Text;
}

bool accepts_gzip(std::string_view accept_encoding) {
    // RFC 9110, 12.5.3: "gzip" or "*" with a quality above 0; gzip's own
    // entry wins over "*".
    std::optional<bool> gzip, any;
    while (!accept_encoding.empty()) {
        const size_t comma = accept_encoding.find(',');
        std::string_view item = accept_encoding.substr(0, comma);
        accept_encoding.remove_prefix(comma == std::string_view::npos ? accept_encoding.size() : comma + 1);
        const size_t semi = item.find(';');
        const std::string_view coding = trim(item.substr(0, semi));
        bool accepted = true;
        if (semi != std::string_view::npos) {
            const std::string_view param = trim(item.substr(semi + 1));
            if (param.size() >= 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
                // A quality is 0, 0.0, 0.00 or 0.000 exactly when it has no non-zero digit.
                accepted = param.substr(2).find_first_of("123456789") != std::string_view::npos;
            }
        }
        if (iequals(coding, "gzip") || iequals(coding, "x-gzip"))
            gzip = accepted;
        else if (coding == "*")
            any = accepted;
    }
    return gzip ? *gzip : any.value_or(false);
}

Endpoints::Endpoints(EndpointOptions options, const MetricStore& store, std::function<void()> before_scrape,
                     std::function<bool()> ready, std::vector<std::pair<std::string, std::string>> users)
    : options_(std::move(options)),
      store_(store),
      before_scrape_(std::move(before_scrape)),
      ready_(std::move(ready)),
      auth_(std::move(users)) {}

namespace {

HttpResponse unauthorized() {
    HttpResponse r = text(401, "Unauthorized.\n");
    r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"ailog_exporter\", charset=\"UTF-8\"");
    return r;
}

HttpResponse too_many() {
    HttpResponse r = text(429, "Too many requests.\n");
    r.headers.emplace_back("Retry-After", "1");
    return r;
}

double now_ms() {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

bool Endpoints::over_rate_limit() {
    if (options_.rate_limit_interval_ms <= 0) return false;
    std::lock_guard lock(rate_mu_);
    const double now = now_ms();
    const double burst = std::max(1.0, static_cast<double>(options_.rate_limit_burst));
    if (tokens_at_ms_ < 0)
        tokens_ = burst;
    else
        tokens_ = std::min(burst, tokens_ + (now - tokens_at_ms_) / options_.rate_limit_interval_ms);
    tokens_at_ms_ = now;
    if (tokens_ < 1) return true;
    tokens_ -= 1;
    return false;
}

HttpResponse Endpoints::refuse(int status, std::string body) const {
    return finish(text(status, std::move(body)));
}

HttpResponse Endpoints::finish(HttpResponse r) const {
    r.headers.emplace_back("Cache-Control", "no-store");
    for (const auto& h : options_.headers) r.headers.push_back(h);
    return r;
}

std::optional<HttpResponse> Endpoints::answer_now(const HttpRequest& request) {
    if (over_rate_limit()) return finish(too_many());
    if (auth_.enabled()) {
        if (!request.has_credentials) return finish(unauthorized());
        if (!auth_.remembered(request.user, request.password)) return std::nullopt;
    }
    const bool reload = request.path == "/-/reload" && (request.method == "POST" || request.method == "PUT");
    if (reload && options_.reload) return std::nullopt;
    return finish(route(request));
}

HttpResponse Endpoints::answer(const HttpRequest& request) {
    if (over_rate_limit()) return finish(too_many());
    return answer_later(request);
}

HttpResponse Endpoints::answer_later(const HttpRequest& request) {
    if (auth_.enabled() && !(request.has_credentials && auth_.check(request.user, request.password)))
        return finish(unauthorized());
    return finish(route(request));
}

HttpResponse Endpoints::route(const HttpRequest& request) {
    const std::string_view method = request.method;
    const std::string_view path = request.path;
    if (path == "/-/reload") {
        if (method != "POST" && method != "PUT") {
            HttpResponse r = text(405, "Only POST or PUT requests allowed.\n");
            r.headers.emplace_back("Allow", "POST, PUT");
            return r;
        }
        if (!options_.reload) return text(403, "Lifecycle API is not enabled.\n");
        const std::string error = options_.reload();
        if (!error.empty()) return text(500, fmt::format("failed to reload config: {}\n", error));
        return text(200, "");
    }
    if (method != "GET" && method != "HEAD") {
        HttpResponse r = text(405, "Method not allowed.\n");
        r.headers.emplace_back("Allow", "GET, HEAD");
        return r;
    }
    if (path == options_.telemetry_path) {
        if (options_.gate_metrics_on_ready && !ready_())
            return text(503,
                        "Catching up with the log files since the last committed state; metrics follow shortly.\n");
        return metrics(request);
    }
    if (path == "/-/healthy") return text(200, "Healthy.\n");
    if (path == "/-/ready") return ready_() ? text(200, "Ready.\n") : text(503, "Not ready.\n");
    if (path == "/") {
        HttpResponse r = text(200, fmt::format("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>"
                                               "ailog_exporter</title></head>\n<body><h1>ailog_exporter</h1>\n<p>"
                                               "Prometheus metrics from AI service logs. Version {} ({}).</p>\n"
                                               "<ul><li><a href=\"{}\">Metrics</a></li><li><a href=\"/-/healthy\">"
                                               "Health</a></li><li><a href=\"/-/ready\">Readiness</a></li></ul>\n"
                                               "</body></html>\n",
                                               kVersion, kRevision, options_.telemetry_path));
        r.content_type = "text/html; charset=utf-8";
        return r;
    }
    return text(404, "Not found.\n");
}

HttpResponse Endpoints::metrics(const HttpRequest& request) {
    // HEAD renders too: its Content-Length is the body's.
    if (before_scrape_) before_scrape_();
    HttpResponse r;
    const Exposition format = negotiate_exposition(request.accept);
    r.content_type = format == Exposition::OpenMetrics ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
                                                       : "text/plain; version=0.0.4; charset=utf-8";
    store_.render(r.body, {}, format);
    if (accepts_gzip(request.accept_encoding)) {
        std::string compressed;
        if (gzip_compress(r.body, compressed)) {
            r.body = std::move(compressed);
            r.headers.emplace_back("Content-Encoding", "gzip");
        }
    }
    r.headers.emplace_back("Vary", "Accept, Accept-Encoding");
    return r;
}

}  // namespace ailog
