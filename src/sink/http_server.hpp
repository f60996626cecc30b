// HttpServer: the exporter's HTTP endpoints on civetweb.
//   <telemetry path>  the metric store in the Prometheus text format (gzip
//                     when the scraper accepts it)
//   /-/healthy        200 while the process runs
//   /-/ready          200 once the inputs are being read (and, with a state
//                     file, read up to where they were at start), else 503
//   /-/reload         POST: reloads the mapping file (500 with the reason
//                     when it does not load; 403 unless enabled)
//   /                 a landing page; anything else is 404
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "ailog/metric_store.hpp"

struct mg_context;
struct mg_connection;

namespace ailog {

// Where to listen: an IPv4 address, or an IPv6 one in brackets, and a port
// (0: any free one).
struct ListenAddress {
    std::string host = "0.0.0.0";
    int port = 7467;
    std::string written = ":7467";  // as the flag gave it, for messages
    std::string text() const;       // host:port
};

// "host:port", ":port" (every interface), "localhost:port", "[v6]:port";
// throws std::invalid_argument describing what is wrong.
ListenAddress parse_listen_address(const std::string& address);

struct HttpOptions {
    ListenAddress listen;
    std::string telemetry_path = "/metrics";
    int threads = 4;
    // Answer the telemetry path with 503 until ready() (state being restored).
    bool gate_metrics_on_ready = false;
    // POST /-/reload: reloads and returns what went wrong ("" when it
    // worked). Empty: the lifecycle endpoint is off (403).
    std::function<std::string()> reload;
};

// Whether an Accept-Encoding header value admits gzip (a quality of 0
// refuses it).
bool accepts_gzip(std::string_view accept_encoding);

class HttpServer {
public:
    // Binds and starts serving; throws std::runtime_error if the address
    // cannot be used (busy port, bad address).
    HttpServer(HttpOptions options, const MetricStore& store, std::function<void()> before_scrape,
               std::function<bool()> ready);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    int port() const { return port_; }
    std::string address() const { return address_; }

private:
    int handle(mg_connection* conn);
    void serve_metrics(mg_connection* conn);

    HttpOptions options_;
    const MetricStore& store_;
    std::function<void()> before_scrape_;
    std::function<bool()> ready_;
    mg_context* ctx_ = nullptr;
    int port_ = 0;
    std::string address_;
};

}  // namespace ailog
