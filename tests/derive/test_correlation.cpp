#include <doctest/doctest.h>
#include <fmt/format.h>

#include <list>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "derive/correlation.hpp"

using namespace ailog;

namespace {
CorrelationTable::Entry entry(const std::string& key, double t, uint32_t payload = 0, uint32_t input = 0,
                              double read_ms = -1) {
    return {hash_key(key), t, read_ms < 0 ? t : read_ms, payload, 0, input};
}
}  // namespace

TEST_CASE("insert and take by key") {
    CorrelationTable t({100, 1e9});
    std::vector<EvictReason> evicted;
    auto on_evict = [&](const CorrelationTable::Entry&, EvictReason r) { evicted.push_back(r); };
    t.insert(entry("a", 1, 7), on_evict);
    t.insert(entry("b", 2), on_evict);
    CorrelationTable::Entry out;
    REQUIRE(t.take(hash_key("a"), out));
    CHECK(out.start_ms == 1);
    CHECK(out.payload == 7);
    CHECK_FALSE(t.take(hash_key("a"), out));
    CHECK(t.size() == 1);
    CHECK(evicted.empty());
}

TEST_CASE("the capacity bound evicts the oldest start") {
    CorrelationTable t({3, 1e9});
    std::vector<double> evicted;
    auto on_evict = [&](const CorrelationTable::Entry& e, EvictReason r) {
        CHECK(r == EvictReason::Capacity);
        evicted.push_back(e.start_ms);
    };
    for (int i = 0; i < 5; ++i) t.insert(entry(fmt::format("k{}", i), i), on_evict);
    CHECK(evicted == std::vector<double>{0, 1});
    CHECK(t.size() == 3);
    CorrelationTable::Entry out;
    CHECK_FALSE(t.take(hash_key("k1"), out));
    CHECK(t.take(hash_key("k4"), out));
}

TEST_CASE("the age bound evicts starts older than max age") {
    CorrelationTable t({100, 1000});
    int evicted = 0;
    auto on_evict = [&](const CorrelationTable::Entry&, EvictReason r) {
        CHECK(r == EvictReason::Age);
        ++evicted;
    };
    t.insert(entry("a", 0), on_evict);
    t.insert(entry("b", 500), on_evict);
    t.expire_input(0, 1000, on_evict);
    CHECK(evicted == 0);
    t.expire_input(0, 1000.5, on_evict);
    CHECK(evicted == 1);
    t.expire_input(0, 1501, on_evict);
    CHECK(evicted == 2);
    CHECK(t.size() == 0);
}

TEST_CASE("each input's log clock ages its own starts; the read clock ages all") {
    CorrelationTable t({100, 1000});
    std::vector<std::string> evicted;
    std::map<double, std::string> names = {{5000, "behind"}, {9000000, "ahead"}, {5200, "behind2"}};
    auto on_evict = [&](const CorrelationTable::Entry& e, EvictReason r) {
        CHECK(r == EvictReason::Age);
        evicted.push_back(names[e.start_ms]);
    };
    // Input 0 logs hours behind input 1; both read at about the same time.
    t.insert(entry("a", 5000, 0, 0, 100), on_evict);
    t.insert(entry("c", 9000000, 0, 1, 200), on_evict);
    t.insert(entry("b", 5200, 0, 0, 300), on_evict);
    t.expire_input(1, 9000500, on_evict);  // input 1's clock: nothing of input 0 goes
    CHECK(evicted.empty());
    t.expire_input(0, 6100, on_evict);
    CHECK(evicted == std::vector<std::string>{"behind"});
    CHECK(t.input_empty(1) == false);
    t.expire_read(1250, on_evict);  // read before 250: input 1's start
    CHECK(evicted == std::vector<std::string>{"behind", "ahead"});
    CHECK(t.input_empty(1));
    CHECK(t.size() == 1);
}

TEST_CASE("a second start with the same key replaces the first") {
    CorrelationTable t({100, 1e9});
    std::vector<EvictReason> evicted;
    t.insert(entry("a", 1), [&](const auto&, EvictReason r) { evicted.push_back(r); });
    t.insert(entry("a", 2), [&](const auto&, EvictReason r) { evicted.push_back(r); });
    CHECK(evicted == std::vector<EvictReason>{EvictReason::Replaced});
    CorrelationTable::Entry out;
    REQUIRE(t.take(hash_key("a"), out));
    CHECK(out.start_ms == 2);
}

TEST_CASE("random operations agree with an independent model of the eviction order") {
    // The model: open starts in insertion order. A start again with the same
    // key replaces the earlier one (which leaves the order); a full table
    // evicts the start inserted first. Evictions are predicted here and
    // compared with what the table reports.
    constexpr size_t kCapacity = 500;
    CorrelationTable t({kCapacity, 1e18});
    std::list<std::pair<std::string, double>> order;
    std::map<std::string, std::list<std::pair<std::string, double>>::iterator> where;
    std::mt19937_64 rng(42);
    int time = 0;
    for (int step = 0; step < 200000; ++step) {
        const std::string key = fmt::format("req-{}", rng() % 2000);
        if (rng() % 2 == 0) {
            std::vector<std::pair<std::string, EvictReason>> want;
            if (auto it = where.find(key); it != where.end()) {
                want.emplace_back(key, EvictReason::Replaced);
                order.erase(it->second);
                where.erase(it);
            }
            if (order.size() >= kCapacity) {
                want.emplace_back(order.front().first, EvictReason::Capacity);
                where.erase(order.front().first);
                order.pop_front();
            }
            std::vector<std::pair<KeyHash, EvictReason>> got;
            t.insert(entry(key, ++time), [&](const CorrelationTable::Entry& e, EvictReason r) {
                got.emplace_back(e.key, r);
            });
            REQUIRE(got.size() == want.size());
            for (size_t i = 0; i < got.size(); ++i) {
                CHECK(got[i].first == hash_key(want[i].first));
                CHECK(got[i].second == want[i].second);
            }
            order.emplace_back(key, time);
            where[key] = std::prev(order.end());
        } else {
            CorrelationTable::Entry out;
            const bool found = t.take(hash_key(key), out);
            const auto it = where.find(key);
            REQUIRE(found == (it != where.end()));
            if (found) {
                CHECK(out.start_ms == it->second->second);
                order.erase(it->second);
                where.erase(it);
            }
        }
        REQUIRE(t.size() == order.size());
    }
}
