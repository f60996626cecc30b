// HttpServer: libmicrohttpd setup and the bridge from its callbacks to
// Endpoints.
#include "sink/http_server.hpp"

#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netinet/in.h>

#include <algorithm>
#include <atomic>
#include <cstdarg>
#include <cstring>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "sink/tls_credentials.hpp"

namespace ailog {
namespace {

// GnuTLS's retrieve function takes no argument of ours: the one TLS server
// of the process is reached through this.
struct TlsHooks {
    TlsCredentials* credentials = nullptr;
    ClientAuth client_auth = ClientAuth::None;
};
std::atomic<const TlsHooks*> g_tls{nullptr};

int retrieve_certificate(gnutls_session_t session, const gnutls_datum_t*, int, const gnutls_pk_algorithm_t*, int,
                         gnutls_pcert_st** chain, unsigned int* length, gnutls_privkey_t* key) {
    const TlsHooks* hooks = g_tls.load(std::memory_order_acquire);
    if (hooks == nullptr) return -1;
    try {
        // Called while the client's hello is answered, before the server asks
        // for a client certificate: the request is set here, per session.
        switch (hooks->client_auth) {
            case ClientAuth::None:
                gnutls_certificate_server_set_request(session, GNUTLS_CERT_IGNORE);
                break;
            case ClientAuth::Request:
            case ClientAuth::VerifyIfGiven:
                gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUEST);
                break;
            case ClientAuth::RequireAny:
                gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUIRE);
                break;
            case ClientAuth::RequireAndVerify:
                gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUIRE);
                // The handshake fails unless the certificate chains to client_ca_file.
                gnutls_session_set_verify_cert(session, nullptr, 0);
                break;
        }
        return hooks->credentials->retrieve(chain, length, key);
    } catch (const std::exception&) {
        return -1;  // the handshake fails; GnuTLS code is not unwound through
    }
}

// libmicrohttpd's messages: kept for the start-up error, debug otherwise.
thread_local std::string t_last_error;
void log_message(void*, const char* format, va_list ap) noexcept {
    char buf[512];
    std::vsnprintf(buf, sizeof buf, format, ap);
    std::string_view text(buf);
    while (!text.empty() && (text.back() == '\n' || text.back() == '.')) text.remove_suffix(1);
    try {
        t_last_error = std::string(text);
        spdlog::debug("http: {}", text);
    } catch (...) {
    }
}

// VerifyClientCertIfGiven: a certificate that was sent must chain to the CA.
bool client_certificate_refused(MHD_Connection* c) {
    const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (info == nullptr || info->tls_session == nullptr) return true;
    auto session = static_cast<gnutls_session_t>(info->tls_session);
    unsigned int n = 0;
    if (gnutls_certificate_get_peers(session, &n) == nullptr || n == 0) return false;
    unsigned int status = 0;
    return gnutls_certificate_verify_peers2(session, &status) != 0 || status != 0;
}

void free_body(void* body) {
    delete static_cast<std::string*>(body);
}

// A request body is read and dropped; beyond this, 413.
constexpr size_t kMaxBodyBytes = 64 * 1024;
// Requests waiting for a bcrypt or a reload; beyond this, 503.
constexpr size_t kMaxWaiting = 64;

}  // namespace

// One request, from its first call of the access handler to its completion.
struct HttpServer::Request {
    std::string method, path, accept, accept_encoding, user, password;
    bool has_credentials = false;
    size_t body_bytes = 0;
    std::optional<HttpResponse> response;  // set by the waiting thread

    HttpRequest view() const {
        HttpRequest r;
        r.method = method;
        r.path = path;
        r.accept = accept;
        r.accept_encoding = accept_encoding;
        r.has_credentials = has_credentials;
        r.user = user;
        r.password = password;
        return r;
    }
    ~Request() { std::fill(password.begin(), password.end(), '\0'); }
};

struct HttpServer::Access {
    static MHD_Result handle(void* cls, MHD_Connection* c, const char* url, const char* method, const char*,
                             const char*, size_t* upload_size, void** con_cls) {
        auto* self = static_cast<HttpServer*>(cls);
        try {
            if (*con_cls == nullptr) {
                // The headers are in; the body, if any, comes in the next calls.
                auto* r = new Request;
                r->method = method;
                r->path = url;
                if (const char* a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT))
                    r->accept = a;
                if (const char* ae = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING))
                    r->accept_encoding = ae;
                char* password = nullptr;
                if (char* user = MHD_basic_auth_get_username_password(c, &password)) {
                    r->has_credentials = true;
                    r->user = user;
                    MHD_free(user);
                }
                if (password != nullptr) {
                    r->password = password;
                    std::memset(password, 0, std::strlen(password));
                    MHD_free(password);
                }
                *con_cls = r;
                return MHD_YES;
            }
            auto* r = static_cast<Request*>(*con_cls);
            if (*upload_size != 0) {
                r->body_bytes += *upload_size;
                *upload_size = 0;
                return MHD_YES;
            }
            if (r->response) return self->send(c, *r->response);
            if (r->body_bytes > kMaxBodyBytes)
                return self->send(c, self->endpoints_.refuse(413, "Request body too large.\n"));
            if (self->options_.web.tls && self->options_.web.tls_server.client_auth == ClientAuth::VerifyIfGiven &&
                client_certificate_refused(c))
                return self->send(
                    c, self->endpoints_.refuse(403, "The client certificate is not signed by a trusted CA.\n"));
            if (auto now = self->endpoints_.answer_now(r->view())) return self->send(c, *now);
            // A bcrypt or a reload: on the waiting thread, not on this event loop.
            if (!self->wait_for(c, r)) return self->send(c, self->endpoints_.refuse(503, "Busy; try again.\n"));
            return MHD_YES;
        } catch (const std::exception& e) {
            spdlog::error("http: {} {}: {}", method, url, e.what());
            return MHD_NO;
        }
    }

    static void completed(void*, MHD_Connection*, void** con_cls, MHD_RequestTerminationCode) {
        delete static_cast<Request*>(*con_cls);
        *con_cls = nullptr;
    }
};

MHD_Result HttpServer::send(MHD_Connection* c, const HttpResponse& out) {
    auto* body = new std::string(out.body);
    MHD_Response* response =
        MHD_create_response_from_buffer_with_free_callback_cls(body->size(), body->data(), free_body, body);
    if (response == nullptr) {
        delete body;
        return MHD_NO;
    }
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, out.content_type.c_str());
    for (const auto& [name, value] : out.headers) MHD_add_response_header(response, name.c_str(), value.c_str());
    const MHD_Result rc = MHD_queue_response(c, static_cast<unsigned int>(out.status), response);
    MHD_destroy_response(response);
    return rc;
}

bool HttpServer::wait_for(MHD_Connection* c, Request* r) {
    {
        std::lock_guard lock(wait_mu_);
        if (stopping_ || waiting_.size() >= kMaxWaiting) return false;
        waiting_.emplace_back(c, r);
        // Suspended before the waiting thread can resume it: under the lock.
        MHD_suspend_connection(c);
    }
    wait_cv_.notify_one();
    return true;
}

void HttpServer::run_waiting() {
    std::unique_lock lock(wait_mu_);
    for (;;) {
        wait_cv_.wait(lock, [&] { return stopping_ || !waiting_.empty(); });
        if (waiting_.empty()) return;  // stopping, and nothing left
        auto [c, r] = waiting_.front();
        waiting_.pop_front();
        const bool stopping = stopping_;
        lock.unlock();
        try {
            r->response = stopping ? endpoints_.refuse(503, "Shutting down.\n") : endpoints_.answer_later(r->view());
        } catch (const std::exception& e) {
            spdlog::error("http: {} {}: {}", r->method, r->path, e.what());
            r->response = endpoints_.refuse(500, "Internal error.\n");
        }
        std::fill(r->password.begin(), r->password.end(), '\0');
        MHD_resume_connection(c);
        lock.lock();
    }
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
        return {host, port, address};
    }
    if (inet_pton(AF_INET, host.c_str(), buf) != 1)
        throw std::invalid_argument(fmt::format("\"{}\" is not an IP address (or localhost)", host));
    return {host, port, address};
}

HttpServer::HttpServer(HttpOptions options, const MetricStore& store, std::function<void()> before_scrape,
                       std::function<bool()> ready)
    : options_(std::move(options)),
      endpoints_(
          [this] {
              EndpointOptions e = options_.endpoints;
              e.headers = options_.web.headers;
              return e;
          }(),
          store, std::move(before_scrape), std::move(ready), options_.web.users) {
    sockaddr_in v4{};
    sockaddr_in6 v6{};
    const sockaddr* addr = nullptr;
    const bool ipv6 = options_.listen.host.front() == '[';
    if (ipv6) {
        v6.sin6_family = AF_INET6;
        v6.sin6_port = htons(static_cast<uint16_t>(options_.listen.port));
        inet_pton(AF_INET6, options_.listen.host.substr(1, options_.listen.host.size() - 2).c_str(), &v6.sin6_addr);
        addr = reinterpret_cast<const sockaddr*>(&v6);
    } else {
        v4.sin_family = AF_INET;
        v4.sin_port = htons(static_cast<uint16_t>(options_.listen.port));
        inet_pton(AF_INET, options_.listen.host.c_str(), &v4.sin_addr);
        addr = reinterpret_cast<const sockaddr*>(&v4);
    }

    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    if (ipv6) flags |= MHD_USE_IPv6;
    std::vector<MHD_OptionItem> tls_items;
    if (options_.web.tls) {
        if (g_tls.load() != nullptr) throw std::runtime_error("only one TLS server per process");
        const TlsServerConfig& t = options_.web.tls_server;
        credentials_ = std::make_unique<TlsCredentials>(t.cert_file, t.key_file);
        priorities_ = t.gnutls_priorities();
        flags |= MHD_USE_TLS;
        tls_items.push_back({MHD_OPTION_HTTPS_CERT_CALLBACK, 0, reinterpret_cast<void*>(&retrieve_certificate)});
        tls_items.push_back({MHD_OPTION_HTTPS_PRIORITIES, 0, priorities_.data()});
        if (!t.client_ca_file.empty()) {
            trust_pem_ = read_config_file(t.client_ca_file);
            tls_items.push_back({MHD_OPTION_HTTPS_MEM_TRUST, 0, trust_pem_.data()});
        }
        static TlsHooks hooks;
        hooks = TlsHooks{credentials_.get(), t.client_auth};
        g_tls.store(&hooks, std::memory_order_release);
    }
    tls_items.push_back({MHD_OPTION_END, 0, nullptr});

    waiter_ = std::thread([this] { run_waiting(); });
    t_last_error.clear();
    // The logger first: messages about the options that follow reach it.
    daemon_ = MHD_start_daemon(
        flags, 0, nullptr, nullptr, &Access::handle, this, MHD_OPTION_EXTERNAL_LOGGER, &log_message, nullptr,
        MHD_OPTION_SOCK_ADDR, addr, MHD_OPTION_THREAD_POOL_SIZE, static_cast<unsigned int>(options_.threads),
        MHD_OPTION_CONNECTION_LIMIT, options_.max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        options_.request_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT, options_.max_header_bytes,
        MHD_OPTION_NOTIFY_COMPLETED, &Access::completed, nullptr, MHD_OPTION_ARRAY, tls_items.data(), MHD_OPTION_END);
    if (daemon_ == nullptr) {
        stop_waiting();
        if (options_.web.tls) g_tls.store(nullptr);
        throw std::runtime_error(fmt::format("cannot listen on {}: {}", options_.listen.text(),
                                             t_last_error.empty() ? "unknown error" : t_last_error));
    }
    if (const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT)) port_ = info->port;
    address_ = fmt::format("{}:{}", options_.listen.host, port_);
}

void HttpServer::stop_waiting() {
    {
        std::lock_guard lock(wait_mu_);
        stopping_ = true;
    }
    wait_cv_.notify_one();
    if (waiter_.joinable()) waiter_.join();  // every waiting request answered and resumed
}

HttpServer::~HttpServer() {
    stop_waiting();
    if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
    if (options_.web.tls) g_tls.store(nullptr);
}

}  // namespace ailog
