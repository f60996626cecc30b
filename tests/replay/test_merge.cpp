#include <doctest/doctest.h>

#include <memory>
#include <utility>
#include <vector>

#include "config/mapping_loader.hpp"
#include "replay/merge.hpp"

using namespace ailog;

namespace {

// A stream of (time, kind) entries, in the order given.
class FakeStream final : public EntryStream {
public:
    explicit FakeStream(std::vector<std::pair<double, int>> entries) : entries_(std::move(entries)) {}
    uint64_t disk_bytes_done() const override { return 0; }
    void add_totals(PipelineStats&) const override {}

protected:
    bool next() override {
        if (pos_ == entries_.size()) {
            head = nullptr;
            return false;
        }
        event_.time_ms = entries_[pos_].first;
        event_.kind = entries_[pos_].second;
        event_.fold_ms = 0;
        ++pos_;
        head = &event_;
        return true;
    }

private:
    std::vector<std::pair<double, int>> entries_;
    size_t pos_ = 0;
    Event event_;
};

int kind_of(const Mapping& m, EntryRole role) {
    for (size_t k = 0; k < m.kinds.size(); ++k)
        if (m.kinds[k].role == role) return static_cast<int>(k);
    FAIL("the mapping has no kind of that role");
    return -1;
}

struct Merged {
    size_t stream;
    double time;
    int kind;
    bool operator==(const Merged&) const = default;
};

std::vector<Merged> merge_all(std::vector<std::vector<std::pair<double, int>>> inputs, const Mapping& mapping) {
    std::vector<std::unique_ptr<EntryStream>> streams;
    for (auto& in : inputs) streams.push_back(std::make_unique<FakeStream>(std::move(in)));
    std::vector<Merged> out;
    TimeMerge merge(streams, mapping);
    for (size_t i = 0; merge.next(i);) out.push_back({i, streams[i]->head_time_ms, streams[i]->head->kind});
    return out;
}

}  // namespace

TEST_CASE("entries of several streams come out oldest first, each stream in its own order") {
    const Mapping m = builtin_mapping();
    const int end = kind_of(m, EntryRole::End);
    const auto out = merge_all({{{10, end}, {30, end}, {50, end}}, {}, {{20, end}, {40, end}, {60, end}}}, m);
    const std::vector<Merged> want{{0, 10, end}, {2, 20, end}, {0, 30, end}, {2, 40, end}, {0, 50, end}, {2, 60, end}};
    CHECK(out == want);
}

TEST_CASE("at the same instant a start goes first, then the streams' order") {
    const Mapping m = builtin_mapping();
    const int start = kind_of(m, EntryRole::Start);
    const int end = kind_of(m, EntryRole::End);
    // The end in stream 0 is of the start in stream 1: the start must be applied first.
    const auto out = merge_all({{{100, end}, {100, end}}, {{100, start}}, {{100, end}}}, m);
    const std::vector<Merged> want{{1, 100, start}, {0, 100, end}, {0, 100, end}, {2, 100, end}};
    CHECK(out == want);
}

TEST_CASE("a stream whose clock goes back is not reordered, only merged by its head") {
    const Mapping m = builtin_mapping();
    const int end = kind_of(m, EntryRole::End);
    const auto out = merge_all({{{50, end}, {5, end}}, {{10, end}, {60, end}}}, m);
    const std::vector<Merged> want{{1, 10, end}, {0, 50, end}, {0, 5, end}, {1, 60, end}};
    CHECK(out == want);
}

TEST_CASE("no streams, or only empty ones, merge to nothing") {
    const Mapping m = builtin_mapping();
    CHECK(merge_all({}, m).empty());
    CHECK(merge_all({{}, {}}, m).empty());
}
