// HttpServer: the exporter's endpoints (sink/endpoints.hpp) served by
// libmicrohttpd: event-driven (epoll) on a small pool of threads, so slow or
// idle clients hold a connection slot and nothing else; a bounded number of
// connections, each closed after a time without progress; request line and
// headers bounded (414, 431); TLS through GnuTLS with optional client
// certificates, the certificate re-read when it changes on disk.
#pragma once

#include <microhttpd.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "ailog/metric_store.hpp"
#include "config/web_config.hpp"
#include "sink/endpoints.hpp"

namespace ailog {

class TlsCredentials;

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
    EndpointOptions endpoints;
    unsigned threads = 2;             // event loops; each serves many connections
    unsigned max_connections = 1024;  // beyond it, new ones wait in the listen backlog
    unsigned request_timeout_s = 5;   // a connection without progress this long is closed
    size_t max_header_bytes = 16384;  // request line and headers
    WebConfig web;                    // TLS, basic auth users, response headers
};

class HttpServer {
public:
    // Binds and starts serving; throws std::runtime_error if the address
    // cannot be used (busy port, bad address) or the TLS files do not load.
    HttpServer(HttpOptions options, const MetricStore& store, std::function<void()> before_scrape,
               std::function<bool()> ready);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    int port() const { return port_; }
    std::string address() const { return address_; }
    bool tls() const { return options_.web.tls; }
    const Endpoints& endpoints() const { return endpoints_; }

    // For libmicrohttpd's callbacks.
    struct Access;
    struct Request;

private:
    MHD_Result send(MHD_Connection* c, const HttpResponse& out);
    // Suspends the connection until the waiting thread has its answer;
    // false when too many wait already.
    bool wait_for(MHD_Connection* c, Request* r);
    void run_waiting();
    void stop_waiting();

    HttpOptions options_;
    Endpoints endpoints_;
    std::unique_ptr<TlsCredentials> credentials_;
    std::string trust_pem_;  // client_ca_file's certificates
    std::string priorities_;
    // Requests that need a bcrypt or a reload, answered one at a time on
    // their own thread, so that the event loops never wait.
    std::mutex wait_mu_;
    std::condition_variable wait_cv_;
    std::deque<std::pair<MHD_Connection*, Request*>> waiting_;
    bool stopping_ = false;
    std::thread waiter_;
    MHD_Daemon* daemon_ = nullptr;
    int port_ = 0;
    std::string address_;
};

}  // namespace ailog
