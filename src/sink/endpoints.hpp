// Endpoints: what each request is answered, apart from how it travels.
//   <telemetry path>  the metric store in the Prometheus text format, or
//                     OpenMetrics with exemplars when the scraper's Accept
//                     asks for it (gzip when the scraper accepts it)
//   /-/healthy        200 while the process runs
//   /-/ready          200 once the inputs are being read (and, with a state
//                     file, read up to where they were at start), else 503
//   /-/reload         POST or PUT: reloads the mapping file (500 with the
//                     reason when it does not load; 403 unless enabled)
//   /                 a landing page; anything else is 404
// Only GET and HEAD elsewhere (405 with Allow). With basic auth users, every
// path asks for them (401 with WWW-Authenticate), as node_exporter does.
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ailog/metric_store.hpp"
#include "sink/basic_auth.hpp"

namespace ailog {

struct EndpointOptions {
    std::string telemetry_path = "/metrics";
    // Answer the telemetry path with 503 until ready() (state being restored).
    bool gate_metrics_on_ready = false;
    // POST /-/reload: reloads and returns what went wrong ("" when it
    // worked). Empty: the lifecycle endpoint is off (403).
    std::function<std::string()> reload;
    // Sent with every answer (the web config's http_server_config.headers).
    std::vector<std::pair<std::string, std::string>> headers;
    // The web config's rate_limit: after `burst` requests, one per interval
    // (429 beyond it); 0 ms: none.
    double rate_limit_interval_ms = 0;
    unsigned rate_limit_burst = 0;
};

struct HttpRequest {
    std::string_view method;
    std::string_view path;  // percent-decoded, without the query
    std::string_view accept;
    std::string_view accept_encoding;
    bool has_credentials = false;
    std::string_view user;
    std::string_view password;
};

struct HttpResponse {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // besides Content-Type and Content-Length
};

// Whether an Accept-Encoding header value admits gzip (a quality of 0
// refuses it).
bool accepts_gzip(std::string_view accept_encoding);
// The format an Accept header value asks for: OpenMetrics 1.0.0 (or 0.0.1)
// when it ranks above text 0.0.4 (as Prometheus asks), else text; on equal
// quality, the one listed first.
Exposition negotiate_exposition(std::string_view accept);

class Endpoints {
public:
    // users: basic auth's user -> bcrypt hash; none: no authentication.
    Endpoints(EndpointOptions options, const MetricStore& store, std::function<void()> before_scrape,
              std::function<bool()> ready, std::vector<std::pair<std::string, std::string>> users = {});

    // The answer, if it can be given without waiting: nothing when it needs
    // a bcrypt (credentials not yet remembered) or a reload, which answer()
    // does off the event loops. Any thread.
    std::optional<HttpResponse> answer_now(const HttpRequest& request);
    // What answer_now() left: the same request, answered whatever it takes
    // (its request already counted against the rate limit).
    HttpResponse answer_later(const HttpRequest& request);
    // The answer, whatever it takes. Any thread; the store is read under its
    // own lock, released before the answer is sent.
    HttpResponse answer(const HttpRequest& request);
    // A plain-text answer the transport gives itself (a body too large, a
    // refused certificate, too many waiting), with the headers every answer has.
    HttpResponse refuse(int status, std::string body) const;

    const BasicAuth& auth() const { return auth_; }

private:
    HttpResponse route(const HttpRequest& request);
    HttpResponse metrics(const HttpRequest& request);
    HttpResponse finish(HttpResponse r) const;  // the headers every answer has
    bool over_rate_limit();

    EndpointOptions options_;
    const MetricStore& store_;
    std::function<void()> before_scrape_;
    std::function<bool()> ready_;
    BasicAuth auth_;
    std::mutex rate_mu_;
    double tokens_ = 0;
    double tokens_at_ms_ = -1;
};

}  // namespace ailog
