#include <doctest/doctest.h>

#include <string>

#include "sink/endpoints.hpp"

using namespace ailog;

namespace {

// bcrypt at cost 4 (the lowest) of "s3cret" and of "other".
constexpr const char* kS3cret = "$2b$04$/bcuA1kP7MQhpWsShNQKSOGpjNd6z9F3H7pC/Twb7wwhTLroUz3AW";
constexpr const char* kOther = "$2b$04$lNlpO8ysybrK.AHqiwruq.iaV.XbggXPAflGYLz7blhigAXzFcUVO";

std::string header(const HttpResponse& r, const std::string& name) {
    for (const auto& [n, v] : r.headers)
        if (n == name) return v;
    return {};
}

struct Fixture {
    MetricStore store;
    bool ready = true;
    int scrapes = 0;
    Endpoints endpoints;
    explicit Fixture(EndpointOptions o = {}, std::vector<std::pair<std::string, std::string>> users = {})
        : endpoints(
              std::move(o), store, [this] { ++scrapes; }, [this] { return ready; }, std::move(users)) {}
    HttpResponse get(std::string_view path, std::string_view method = "GET") {
        HttpRequest r;
        r.method = method;
        r.path = path;
        return endpoints.answer(r);
    }
    HttpResponse as(std::string_view user, std::string_view password, std::string_view path = "/metrics") {
        HttpRequest r;
        r.method = "GET";
        r.path = path;
        r.has_credentials = true;
        r.user = user;
        r.password = password;
        return endpoints.answer(r);
    }
};

}  // namespace

TEST_CASE("only GET and HEAD, and POST or PUT on /-/reload; 405 names what is allowed") {
    Fixture f;
    CHECK(f.get("/metrics").status == 200);
    CHECK(f.get("/metrics", "HEAD").status == 200);
    for (const char* m : {"POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH", "CONNECT", "BREW"}) {
        const HttpResponse r = f.get("/metrics", m);
        CHECK(r.status == 405);
        CHECK(header(r, "Allow") == "GET, HEAD");
    }
    CHECK(f.scrapes == 2);
    const HttpResponse r = f.get("/-/reload");
    CHECK(r.status == 405);
    CHECK(header(r, "Allow") == "POST, PUT");
    CHECK(f.get("/-/reload", "POST").status == 403);  // lifecycle not enabled
    CHECK(f.get("/nothing").status == 404);
    CHECK(f.get("//metrics").status == 404);
    CHECK(f.get("/metrics/").status == 404);
}

TEST_CASE("the telemetry path waits for readiness when asked to; /-/ready says it") {
    EndpointOptions o;
    o.gate_metrics_on_ready = true;
    Fixture f(o);
    f.ready = false;
    CHECK(f.get("/metrics").status == 503);
    CHECK(f.get("/-/ready").status == 503);
    CHECK(f.get("/-/healthy").status == 200);
    f.ready = true;
    CHECK(f.get("/metrics").status == 200);
    CHECK(f.get("/-/ready").status == 200);
}

TEST_CASE("reload answers 500 with the reason when the file does not load") {
    EndpointOptions o;
    std::string error = "t.yml:3:5: unknown key";
    o.reload = [&] { return error; };
    Fixture f(o);
    HttpResponse r = f.get("/-/reload", "POST");
    CHECK(r.status == 500);
    CHECK(r.body.find("t.yml:3:5: unknown key") != std::string::npos);
    error.clear();
    CHECK(f.get("/-/reload", "PUT").status == 200);
}

TEST_CASE("basic auth guards every path; good credentials are remembered, failures never") {
    Fixture f({}, {{"prometheus", kS3cret}, {"grafana", kOther}});
    for (const char* path : {"/metrics", "/-/healthy", "/-/ready", "/", "/nothing"}) {
        const HttpResponse r = f.get(path);
        CHECK(r.status == 401);
        CHECK(header(r, "WWW-Authenticate").rfind("Basic realm=", 0) == 0);
    }
    CHECK(f.scrapes == 0);
    CHECK(f.as("prometheus", "wrong").status == 401);
    CHECK(f.as("prometheus", "wrong").status == 401);
    CHECK(f.as("nobody", "s3cret").status == 401);
    CHECK(f.as("grafana", "s3cret").status == 401);  // another user's password
    CHECK(f.as("prometheus", std::string_view("s3cret\0x", 8)).status == 401);
    CHECK(f.endpoints.auth().bcrypt_runs() == 5);  // each failure was checked; none was remembered
    CHECK(f.as("prometheus", "s3cret").status == 200);
    CHECK(f.as("prometheus", "s3cret").status == 200);
    CHECK(f.as("prometheus", "s3cret", "/-/healthy").status == 200);
    CHECK(f.endpoints.auth().bcrypt_runs() == 6);
    CHECK(f.endpoints.auth().remembered_hits() == 2);
    CHECK(f.as("grafana", "other").status == 200);
    CHECK(f.as("prometheus", "wrong").status == 401);  // a good password remembered lets no other through
    CHECK(f.endpoints.auth().bcrypt_runs() == 8);
    CHECK(f.scrapes == 3);
}

TEST_CASE("without users every request passes; the web config's headers go with every answer") {
    EndpointOptions o;
    o.headers = {{"X-Frame-Options", "deny"}, {"Strict-Transport-Security", "max-age=31536000"}};
    Fixture f(o);
    for (const char* path : {"/metrics", "/nothing"}) {
        const HttpResponse r = f.get(path);
        CHECK(header(r, "X-Frame-Options") == "deny");
        CHECK(header(r, "Strict-Transport-Security") == "max-age=31536000");
        CHECK(header(r, "Cache-Control") == "no-store");
    }
    CHECK(f.get("/metrics").content_type == "text/plain; version=0.0.4; charset=utf-8");
}

TEST_CASE("crypt_verify takes $2a$, $2b$ and $2y$ and refuses what is not a hash") {
    CHECK(crypt_verify("s3cret", kS3cret));
    std::string y = kS3cret;
    y[2] = 'y';
    CHECK(crypt_verify("s3cret", y));
    std::string a = kS3cret;
    a[2] = 'a';
    CHECK(crypt_verify("s3cret", a));
    CHECK_FALSE(crypt_verify("s3cret", "s3cret"));
    CHECK_FALSE(crypt_verify("", ""));
    CHECK_FALSE(crypt_verify("s3cret", "$2b$04$short"));
}
