// HttpServer: civetweb setup and request handling.
#include "sink/http_server.hpp"

#include <arpa/inet.h>
#include <civetweb.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string_view>

#include <fmt/format.h>

#include "sink/gzip.hpp"
#include "version.hpp"

namespace ailog {
namespace {

void send(mg_connection* conn, int status, std::string_view reason, std::string_view content_type,
          std::string_view body, bool gzipped = false) {
    mg_printf(conn,
              "HTTP/1.1 %d %.*s\r\nContent-Type: %.*s\r\nContent-Length: %zu\r\n%sCache-Control: no-store\r\n\r\n",
              status, static_cast<int>(reason.size()), reason.data(), static_cast<int>(content_type.size()),
              content_type.data(), body.size(), gzipped ? "Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n" : "");
    if (std::strcmp(mg_get_request_info(conn)->request_method, "HEAD") != 0) mg_write(conn, body.data(), body.size());
}

}  // namespace

bool accepts_gzip(std::string_view accept_encoding) {
    // RFC 9110, 12.5.3: "gzip" or "*" with a quality above 0; gzip's own
    // entry wins over "*".
    std::optional<bool> gzip, any;
    auto trim = [](std::string_view v) {
        while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
        while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
        return v;
    };
    auto iequals = [](std::string_view a, std::string_view b) {
        return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
                   return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
               });
    };
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

std::string ListenAddress::text() const {
    return fmt::format("{}:{}", host, port);
}

ListenAddress parse_listen_address(const std::string& address) {
    const size_t colon = address.rfind(':');
    if (colon == std::string::npos)
        throw std::invalid_argument(fmt::format("\"{}\" is not host:port (e.g. :7467 or 127.0.0.1:7467)", address));
    std::string host = address.substr(0, colon);
    const std::string port_text = address.substr(colon + 1);
    int port = -1;
    if (!port_text.empty() && port_text.size() <= 5 && port_text.find_first_not_of("0123456789") == std::string::npos)
        port = std::stoi(port_text);
    if (port < 0 || port > 65535) throw std::invalid_argument(fmt::format("\"{}\" is not a port number", port_text));
    if (host.empty() || host == "0.0.0.0") return {"0.0.0.0", port, address};
    if (host == "localhost") return {"127.0.0.1", port, address};
    unsigned char buf[16];
    if (host.front() == '[' && host.back() == ']') {
        if (inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), buf) != 1)
            throw std::invalid_argument(fmt::format("\"{}\" is not an IPv6 address", host));
        if (mg_check_feature(8) == 0)  // 8: IPv6
            throw std::invalid_argument("IPv6 addresses are not supported: this civetweb is built without IPv6");
        return {host, port, address};
    }
    if (inet_pton(AF_INET, host.c_str(), buf) != 1)
        throw std::invalid_argument(fmt::format("\"{}\" is not an IP address (or localhost)", host));
    return {host, port, address};
}

HttpServer::HttpServer(HttpOptions options, const MetricStore& store, std::function<void()> before_scrape,
                       std::function<bool()> ready)
    : options_(std::move(options)), store_(store), before_scrape_(std::move(before_scrape)), ready_(std::move(ready)) {
    const std::string ports = options_.listen.text();
    const std::string threads = std::to_string(options_.threads);
    const char* config[] = {"listening_ports",    ports.c_str(), "num_threads", threads.c_str(),
                            "request_timeout_ms", "10000",       nullptr};
    mg_callbacks callbacks{};
    // civetweb prints its own errors to stderr unless told otherwise; the
    // start-up error is reported by us, once.
    callbacks.log_message = [](const mg_connection*, const char*) { return 1; };
    // Requests are answered from the first one on: a handler registered after
    // mg_start2() would leave a moment in which civetweb answers 404 itself.
    callbacks.begin_request = [](mg_connection* conn) {
        return static_cast<HttpServer*>(mg_get_user_data(mg_get_context(conn)))->handle(conn);
    };
    mg_init_data init{&callbacks, this, config};
    char error_text[256] = "";
    unsigned error_code = 0;
    mg_error_data error{&error_code, error_text, sizeof error_text};
    ctx_ = mg_start2(&init, &error);
    if (ctx_ == nullptr)
        throw std::runtime_error(
            fmt::format("cannot listen on {}: {}", ports, error_text[0] != '\0' ? error_text : "unknown error"));
    mg_server_port sp{};
    if (mg_get_server_ports(ctx_, 1, &sp) >= 1) port_ = sp.port;
    address_ = fmt::format("{}:{}", options_.listen.host, port_);
}

HttpServer::~HttpServer() {
    if (ctx_ != nullptr) mg_stop(ctx_);
}

int HttpServer::handle(mg_connection* conn) {
    const mg_request_info* req = mg_get_request_info(conn);
    const std::string_view method = req->request_method;
    // The path as sent: civetweb's cleaned local_uri would serve //metrics
    // or /x/../metrics as the metrics.
    const std::string_view path = req->local_uri_raw != nullptr ? req->local_uri_raw : "";
    if (path == "/-/reload") {
        if (method != "POST" && method != "PUT") {
            mg_printf(conn,
                      "HTTP/1.1 405 Method Not Allowed\r\nAllow: POST, PUT\r\nContent-Type: text/plain; "
                      "charset=utf-8\r\nContent-Length: 34\r\nCache-Control: no-store\r\n\r\n");
            if (method != "HEAD") mg_write(conn, "Only POST or PUT requests allowed\n", 34);
            return 405;
        }
        if (!options_.reload) {
            send(conn, 403, "Forbidden", "text/plain; charset=utf-8", "Lifecycle API is not enabled.\n");
            return 403;
        }
        const std::string error = options_.reload();
        if (!error.empty()) {
            send(conn, 500, "Internal Server Error", "text/plain; charset=utf-8",
                 fmt::format("failed to reload config: {}\n", error));
            return 500;
        }
        send(conn, 200, "OK", "text/plain; charset=utf-8", "");
        return 200;
    }
    if (method != "GET" && method != "HEAD") {
        send(conn, 405, "Method Not Allowed", "text/plain; charset=utf-8", "Method not allowed.\n");
        return 405;
    }
    if (path == options_.telemetry_path) {
        if (options_.gate_metrics_on_ready && !ready_()) {
            send(conn, 503, "Service Unavailable", "text/plain; charset=utf-8",
                 "Catching up with the log files since the last committed state; metrics follow shortly.\n");
            return 503;
        }
        serve_metrics(conn);
        return 200;
    }
    if (path == "/-/healthy") {
        send(conn, 200, "OK", "text/plain; charset=utf-8", "Healthy.\n");
        return 200;
    }
    if (path == "/-/ready") {
        if (ready_()) {
            send(conn, 200, "OK", "text/plain; charset=utf-8", "Ready.\n");
            return 200;
        }
        send(conn, 503, "Service Unavailable", "text/plain; charset=utf-8", "Not ready.\n");
        return 503;
    }
    if (path == "/") {
        const std::string page = fmt::format(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>ailog_exporter</title></head>\n"
            "<body><h1>ailog_exporter</h1>\n<p>Prometheus metrics from AI service logs. Version {} ({}).</p>\n"
            "<ul><li><a href=\"{}\">Metrics</a></li><li><a href=\"/-/healthy\">Health</a></li>"
            "<li><a href=\"/-/ready\">Readiness</a></li></ul>\n</body></html>\n",
            kVersion, kRevision, options_.telemetry_path);
        send(conn, 200, "OK", "text/html; charset=utf-8", page);
        return 200;
    }
    send(conn, 404, "Not Found", "text/plain; charset=utf-8", "Not found.\n");
    return 404;
}

void HttpServer::serve_metrics(mg_connection* conn) {
    if (before_scrape_) before_scrape_();
    thread_local std::string body;
    thread_local std::string compressed;
    body.clear();
    store_.render(body);
    constexpr std::string_view kType = "text/plain; version=0.0.4; charset=utf-8";
    const char* accept_encoding = mg_get_header(conn, "Accept-Encoding");
    if (accept_encoding != nullptr && accepts_gzip(accept_encoding)) {
        compressed.clear();
        if (gzip_compress(body, compressed)) {
            send(conn, 200, "OK", kType, compressed, true);
            return;
        }
    }
    send(conn, 200, "OK", kType, body);
}

}  // namespace ailog
