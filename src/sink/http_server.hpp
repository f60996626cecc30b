// HttpServer: the exporter's HTTP endpoints on civetweb.
//   <telemetry path>  the metric store in the Prometheus text format (gzip
//                     when the scraper accepts it)
//   /-/healthy        200 while the process runs
//   /-/ready          200 once the inputs are being read (and, with a state
//                     file, read up to where they were at start), else 503
//   /                 a landing page; anything else is 404
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "ailog/metric_store.hpp"

struct mg_context;
struct mg_connection;

namespace ailog {

struct HttpOptions {
    std::string listen_address = ":7467";
    std::string telemetry_path = "/metrics";
    int threads = 4;
    // Answer the telemetry path with 503 until ready() (state being restored).
    bool gate_metrics_on_ready = false;
};

// Whether an Accept-Encoding header value admits gzip (a quality of 0
// refuses it).
bool accepts_gzip(std::string_view accept_encoding);

// "host:port", ":port", "[v6]:port" -> civetweb's listening_ports syntax;
// throws std::invalid_argument describing what is wrong.
std::string civetweb_listen_spec(const std::string& address);

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
