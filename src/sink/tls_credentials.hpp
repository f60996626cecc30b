// TlsCredentials: the server's certificate chain and key, read again when
// either file changes on disk, so that a rotated certificate is served from
// the next handshake on without a restart. A file that fails to load then
// leaves the previous pair in use, and the failure is logged and counted.
#pragma once

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ailog {

class TlsCredentials {
public:
    // Loads both files; throws std::runtime_error naming the file at fault.
    TlsCredentials(std::string cert_file, std::string key_file);
    ~TlsCredentials();
    TlsCredentials(const TlsCredentials&) = delete;
    TlsCredentials& operator=(const TlsCredentials&) = delete;

    // GnuTLS's certificate retrieve function, for the handshakes of every
    // connection (any thread): the current pair, checked against the files
    // at most once a second.
    int retrieve(gnutls_pcert_st** chain, unsigned int* length, gnutls_privkey_t* key);

    uint64_t reloads() const { return reloads_.load(std::memory_order_relaxed); }
    uint64_t reload_failures() const { return failures_.load(std::memory_order_relaxed); }

private:
    struct Pair;
    struct Stamp {
        long long cert_mtime_ns = -1, key_mtime_ns = -1;
        long long cert_size = -1, key_size = -1;
        unsigned long long cert_ino = 0, key_ino = 0;
        bool operator==(const Stamp&) const = default;
    };
    Stamp stamp() const;
    std::shared_ptr<Pair> load() const;  // throws std::runtime_error

    std::string cert_file_;
    std::string key_file_;
    std::mutex mu_;
    std::shared_ptr<Pair> current_;
    // Pairs replaced: a session may still use them.
    std::vector<std::shared_ptr<Pair>> retired_;
    Stamp loaded_stamp_;
    double next_check_s_ = 0;
    std::atomic<uint64_t> reloads_{0};
    std::atomic<uint64_t> failures_{0};
};

}  // namespace ailog
