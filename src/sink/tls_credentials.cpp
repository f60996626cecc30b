// TlsCredentials: PEM files read into GnuTLS's pcert and privkey.
#include "sink/tls_credentials.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace ailog {

namespace {

constexpr unsigned kMaxChain = 16;
// GnuTLS keeps pointers to the pair a session was given (an RSA key exchange
// uses the key after the handshake's start): replaced pairs are kept until
// the server stops, the oldest dropped beyond this many rotations.
constexpr size_t kMaxRetired = 256;

double monotonic_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string read_file(const std::string& path, const char* what) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(fmt::format("{} {}: cannot read: {}", what, path, std::strerror(errno)));
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

gnutls_datum_t datum(std::string& s) {
    return gnutls_datum_t{reinterpret_cast<unsigned char*>(s.data()), static_cast<unsigned int>(s.size())};
}

// The DER of a public key, to tell whether a key belongs to a certificate.
std::string der(gnutls_pubkey_t key) {
    gnutls_datum_t out{};
    if (gnutls_pubkey_export2(key, GNUTLS_X509_FMT_DER, &out) != 0) return {};
    std::string s(reinterpret_cast<const char*>(out.data), out.size);
    gnutls_free(out.data);
    return s;
}

}  // namespace

struct TlsCredentials::Pair {
    gnutls_pcert_st chain[kMaxChain]{};
    unsigned int length = 0;
    gnutls_privkey_t key = nullptr;
    ~Pair() {
        for (unsigned i = 0; i < length; ++i) gnutls_pcert_deinit(&chain[i]);
        if (key != nullptr) gnutls_privkey_deinit(key);
    }
};

TlsCredentials::TlsCredentials(std::string cert_file, std::string key_file)
    : cert_file_(std::move(cert_file)), key_file_(std::move(key_file)) {
    loaded_stamp_ = stamp();
    current_ = load();
    next_check_s_ = monotonic_s() + 1;
}

TlsCredentials::~TlsCredentials() = default;

TlsCredentials::Stamp TlsCredentials::stamp() const {
    Stamp s;
    struct stat st {};
    if (::stat(cert_file_.c_str(), &st) == 0) {
        s.cert_mtime_ns = static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
        s.cert_size = st.st_size;
        s.cert_ino = st.st_ino;
    }
    if (::stat(key_file_.c_str(), &st) == 0) {
        s.key_mtime_ns = static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
        s.key_size = st.st_size;
        s.key_ino = st.st_ino;
    }
    return s;
}

std::shared_ptr<TlsCredentials::Pair> TlsCredentials::load() const {
    std::string cert = read_file(cert_file_, "cert_file");
    std::string key = read_file(key_file_, "key_file");
    auto p = std::make_shared<Pair>();
    gnutls_datum_t d = datum(cert);
    p->length = kMaxChain;
    int rc = gnutls_pcert_list_import_x509_raw(p->chain, &p->length, &d, GNUTLS_X509_FMT_PEM, 0);
    if (rc < 0) {
        p->length = 0;
        throw std::runtime_error(
            fmt::format("cert_file {}: not a PEM certificate chain: {}", cert_file_, gnutls_strerror(rc)));
    }
    if (gnutls_privkey_init(&p->key) != 0) throw std::runtime_error("cannot allocate a private key");
    d = datum(key);
    rc = gnutls_privkey_import_x509_raw(p->key, &d, GNUTLS_X509_FMT_PEM, nullptr, 0);
    if (rc < 0)
        throw std::runtime_error(fmt::format("key_file {}: not a PEM private key: {}", key_file_, gnutls_strerror(rc)));
    gnutls_pubkey_t pub = nullptr;
    std::string of_key;
    if (gnutls_pubkey_init(&pub) == 0) {
        if (gnutls_pubkey_import_privkey(pub, p->key, 0, 0) == 0) of_key = der(pub);
        gnutls_pubkey_deinit(pub);
    }
    if (of_key.empty() || of_key != der(p->chain[0].pubkey))
        throw std::runtime_error(
            fmt::format("key_file {} is not the key of the certificate in cert_file {}", key_file_, cert_file_));
    return p;
}

int TlsCredentials::retrieve(gnutls_pcert_st** chain, unsigned int* length, gnutls_privkey_t* key) {
    std::lock_guard lock(mu_);
    const double now = monotonic_s();
    if (now >= next_check_s_) {
        next_check_s_ = now + 1;
        if (const Stamp s = stamp(); !(s == loaded_stamp_)) {
            loaded_stamp_ = s;  // a pair that fails is tried again when the files change again
            try {
                auto next = load();
                retired_.push_back(std::move(current_));
                if (retired_.size() > kMaxRetired) retired_.erase(retired_.begin());
                current_ = std::move(next);
                reloads_.fetch_add(1, std::memory_order_relaxed);
                spdlog::info("TLS certificate reloaded cert_file={}", cert_file_);
            } catch (const std::exception& e) {
                failures_.fetch_add(1, std::memory_order_relaxed);
                spdlog::error("TLS certificate not reloaded, the previous one stays: {}", e.what());
            }
        }
    }
    *chain = current_->chain;
    *length = current_->length;
    *key = current_->key;
    return 0;
}

}  // namespace ailog
