// State: what survives a restart, as plain data: each file's identity and
// committed offset (with any partial wrapper record), the value of every
// metric series, the open start entries, and the exporter's own counters.
// Serialised as JSON; written atomically (temp file, fsync, rename).
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "decode/line_decoder.hpp"
#include "source/file_identity.hpp"

namespace ailog {

inline constexpr int kStateVersion = 1;

// A followed file: where it is and how far it was read (the tailer's), and
// what its decoder carried over (the decoder's).
struct FileState : FileIdentity, SourceState {};

struct SeriesState {
    std::vector<std::string> labels;
    double value = 0;               // counter/gauge value; histogram sum
    std::vector<uint64_t> buckets;  // histogram: per-bucket counts, +Inf last
};

struct FamilyState {
    std::string name;
    std::string shape;  // family_shape() when saved; "" in older files
    std::vector<SeriesState> series;
};

struct OpenStartState {
    uint64_t key_a = 0;
    uint64_t key_b = 0;
    double start_ms = 0;
    std::string input;  // the input it was read from (rotated set, stdin "-"); "" in older files
    std::vector<std::string> in_flight_labels;  // empty: no in-flight series
    bool has_in_flight = false;
    std::vector<std::pair<std::string, std::string>> from_start;  // values kept for the end entry, by field
    std::string mapping;  // Mapping::name of the mapping whose start it is ("": the only one)
};

// Named counters (exporter self-metrics and deriver statistics).
struct CounterState {
    std::string name;
    uint64_t value = 0;
};

struct State {
    int version = kStateVersion;
    double written_at_ms = 0;
    std::string mapping;  // mapping_hash() of the mapping that wrote it; "" in older files
    std::vector<FileState> files;
    std::vector<FamilyState> families;
    std::vector<OpenStartState> open_starts;
    std::vector<CounterState> counters;
    double last_entry_ms = 0;
};

class StateError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

std::string serialize_state(const State& s);
// Throws StateError describing what is wrong (corrupt, or another version).
State parse_state(std::string_view json);

// Writes `data` to `path` atomically: a temp file beside it, fsync, rename,
// fsync of the directory. Throws StateError.
void write_file_atomically(const std::string& path, std::string_view data);
// The file's contents, or nothing when it does not exist. Throws StateError
// when it exists but cannot be read.
std::optional<std::string> read_state_file(const std::string& path);

}  // namespace ailog
