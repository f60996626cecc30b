// BasicAuth: a user and password checked against the web config's bcrypt
// hashes with libxcrypt's crypt_rn. Good credentials are remembered as a
// SHA-256 digest of user, hash and password (never the password itself), so
// that repeated scrapes skip bcrypt's cost; a failure is never remembered,
// so a guess costs a bcrypt every time. An unknown user is checked against a
// fixed hash, which takes as long as a known one: timing tells no names.
#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace ailog {

class BasicAuth {
public:
    // user -> bcrypt hash; empty: every request passes.
    explicit BasicAuth(std::vector<std::pair<std::string, std::string>> users);

    bool enabled() const { return !users_.empty(); }
    // Whether these credentials were found good before (no bcrypt).
    bool remembered(std::string_view user, std::string_view password);
    // Runs bcrypt unless remembered.
    bool check(std::string_view user, std::string_view password);

    // Verifications that ran bcrypt, and those answered from the memory.
    uint64_t bcrypt_runs() const;
    uint64_t remembered_hits() const;

private:
    const std::string* hash_of(std::string_view user) const;
    bool remembered_key(const std::string& key);  // counts a hit

    std::vector<std::pair<std::string, std::string>> users_;  // sorted by user
    // What an unknown user's password is checked against: a hash of a random
    // password at the highest cost among the users', so that it takes as long.
    std::string nobody_;
    mutable std::mutex mu_;
    std::unordered_set<std::string> good_;  // digests of good credentials
    uint64_t bcrypt_runs_ = 0;
    uint64_t hits_ = 0;
    std::mutex bcrypt_mu_;  // one bcrypt at a time: a flood of guesses takes one core
};

// Verifies `password` against a crypt(3) hash; false for malformed hashes and
// passwords holding a NUL.
bool crypt_verify(std::string_view password, const std::string& hash);

}  // namespace ailog
