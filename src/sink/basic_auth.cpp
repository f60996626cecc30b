// BasicAuth: bcrypt through libxcrypt, good credentials remembered by digest.
#include "sink/basic_auth.hpp"

#include <crypt.h>
#include <gnutls/crypto.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

namespace ailog {
namespace {

// At most this many good credentials are remembered; then the memory starts over.
constexpr size_t kMaxRemembered = 1024;

std::string digest(std::string_view user, const std::string& hash, std::string_view password) {
    std::string input;
    input.reserve(user.size() + hash.size() + password.size() + 2);
    input.append(user).push_back('\0');
    input.append(hash).push_back('\0');
    input.append(password);
    std::string out(32, '\0');
    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, input.data(), input.size(), out.data()) != 0) return {};
    return out;
}

}  // namespace

bool crypt_verify(std::string_view password, const std::string& hash) {
    if (password.find('\0') != std::string_view::npos) return false;
    const std::string pw(password);
    auto data = std::make_unique<crypt_data>();  // 32 KB: not on a server thread's stack
    const char* out = crypt_rn(pw.c_str(), hash.c_str(), data.get(), sizeof(crypt_data));
    if (out == nullptr || out[0] == '*') return false;
    const std::string_view got(out);
    if (got.size() != hash.size()) return false;
    unsigned char diff = 0;  // in constant time
    for (size_t i = 0; i < got.size(); ++i) diff |= static_cast<unsigned char>(got[i] ^ hash[i]);
    return diff == 0;
}

BasicAuth::BasicAuth(std::vector<std::pair<std::string, std::string>> users) : users_(std::move(users)) {
    std::sort(users_.begin(), users_.end());
    if (users_.empty()) return;
    // bcrypt's cost is the two digits after "$2?$".
    unsigned long cost = 4;
    for (const auto& [user, hash] : users_)
        if (hash.size() > 6) cost = std::max(cost, std::strtoul(hash.c_str() + 4, nullptr, 10));
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    std::string random(16, '\0');
    if (gnutls_rnd(GNUTLS_RND_NONCE, random.data(), random.size()) == 0 &&
        crypt_gensalt_rn("$2b$", cost, nullptr, 0, salt, sizeof salt) != nullptr) {
        for (char& c : random) c = static_cast<char>('a' + (static_cast<unsigned char>(c) % 26));
        auto data = std::make_unique<crypt_data>();
        if (const char* out = crypt_rn(random.c_str(), salt, data.get(), sizeof(crypt_data)); out && out[0] != '*')
            nobody_ = out;
    }
    if (nobody_.empty()) nobody_ = users_.front().second;  // never matches an unknown user's check below
}

bool BasicAuth::remembered(std::string_view user, std::string_view password) {
    const std::string* known = hash_of(user);
    if (known == nullptr) return false;
    return remembered_key(digest(user, *known, password));
}

bool BasicAuth::remembered_key(const std::string& key) {
    std::lock_guard lock(mu_);
    if (key.empty() || good_.count(key) == 0) return false;
    ++hits_;
    return true;
}

const std::string* BasicAuth::hash_of(std::string_view user) const {
    const auto it = std::lower_bound(users_.begin(), users_.end(), user,
                                     [](const auto& u, std::string_view name) { return u.first < name; });
    return it != users_.end() && it->first == user ? &it->second : nullptr;
}

bool BasicAuth::check(std::string_view user, std::string_view password) {
    if (users_.empty()) return true;
    const std::string* known = hash_of(user);
    const std::string& hash = known != nullptr ? *known : nobody_;
    const std::string key = digest(user, hash, password);
    if (known != nullptr && remembered_key(key)) return true;
    bool ok;
    {
        std::lock_guard lock(bcrypt_mu_);
        ok = crypt_verify(password, hash) && known != nullptr;
    }
    std::lock_guard lock(mu_);
    ++bcrypt_runs_;
    if (ok && !key.empty()) {
        if (good_.size() >= kMaxRemembered) good_.clear();
        good_.insert(key);
    }
    return ok;
}

uint64_t BasicAuth::bcrypt_runs() const {
    std::lock_guard lock(mu_);
    return bcrypt_runs_;
}

uint64_t BasicAuth::remembered_hits() const {
    std::lock_guard lock(mu_);
    return hits_;
}

}  // namespace ailog
