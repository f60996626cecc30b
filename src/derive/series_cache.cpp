// Deriver::SeriesCache: the label sets a log uses, found by a short hash and
// a compare of the label values in place.
#include "derive/deriver.hpp"

#include <cstring>

namespace ailog {

namespace {

// Up to 16 bytes of `s` that tell short values apart: its first and last 8
// bytes, or for shorter ones its first and last 4, or first, middle and last
// byte (the loads have fixed sizes: no call to memcpy).
uint64_t sample(std::string_view s) {
    const char* p = s.data();
    const size_t n = s.size();
    uint64_t a = 0, b = 0;
    if (n >= 8) {
        std::memcpy(&a, p, 8);
        std::memcpy(&b, p + n - 8, 8);
    } else if (n >= 4) {
        uint32_t x, y;
        std::memcpy(&x, p, 4);
        std::memcpy(&y, p + n - 4, 4);
        a = x;
        b = y;
    } else if (n > 0) {
        a = static_cast<uint64_t>(static_cast<unsigned char>(p[0])) << 16 |
            static_cast<uint64_t>(static_cast<unsigned char>(p[n / 2])) << 8 | static_cast<unsigned char>(p[n - 1]);
    }
    return a ^ ((b << 29) | (b >> 35)) ^ (n * 0x9e3779b97f4a7c15ULL);
}

}  // namespace

uint64_t Deriver::SeriesCache::hash(Labels labels) {
    // Cheap: the compare that follows decides.
    uint64_t h = labels.size();
    for (std::string_view l : labels) h = (h ^ sample(l)) * 0xbf58476d1ce4e5b9ULL;
    return h ^ (h >> 31);
}

bool Deriver::SeriesCache::same(const std::string& key, Labels labels) {
    size_t pos = 0;
    for (std::string_view l : labels) {
        uint32_t size = 0;
        if (key.size() - pos < sizeof size) return false;
        std::memcpy(&size, key.data() + pos, sizeof size);
        pos += sizeof size;
        if (size != l.size() || key.size() - pos < size || std::memcmp(key.data() + pos, l.data(), size) != 0)
            return false;
        pos += size;
    }
    return pos == key.size();
}

Series* Deriver::SeriesCache::find(Labels labels, uint64_t hash) const {
    const size_t mask = slots_.size() - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        const Slot& s = slots_[i];
        if (s.series == nullptr) return nullptr;
        if (s.hash == hash && same(s.key, labels)) return s.series;
    }
}

Deriver::SeriesCache::Slot& Deriver::SeriesCache::empty_slot(uint64_t hash) {
    const size_t mask = slots_.size() - 1;
    size_t i = hash & mask;
    while (slots_[i].series != nullptr) i = (i + 1) & mask;
    return slots_[i];
}

void Deriver::SeriesCache::put(Labels labels, uint64_t hash, Series* series) {
    if (used_ >= kMaxEntries) return;
    if ((used_ + 1) * 2 > slots_.size()) {
        std::vector<Slot> old(slots_.size() * 2);
        old.swap(slots_);
        for (Slot& s : old)
            if (s.series != nullptr) empty_slot(s.hash) = std::move(s);
    }
    Slot& s = empty_slot(hash);
    s.hash = hash;
    s.series = series;
    s.key.clear();
    for (std::string_view l : labels) {
        const auto size = static_cast<uint32_t>(l.size());
        s.key.append(reinterpret_cast<const char*>(&size), sizeof size);
        s.key.append(l);
    }
    ++used_;
}

}  // namespace ailog
