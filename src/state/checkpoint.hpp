// Checkpoint: takes a State from the running pipeline and tailer, and puts a
// State back into them. Both run on the pipeline thread, between lines, so
// offsets, metric values and open starts always agree with each other.
#pragma once

#include <span>
#include <vector>

#include "ailog/metric_store.hpp"
#include "pipeline/pipeline.hpp"
#include "source/tailer.hpp"
#include "state/state.hpp"

namespace ailog {

// A hash of a family's type, labels and buckets: saved series go back only
// into a family of the same shape.
std::string family_shape(const MetricStore::Family& f);
// A hash of the mapping's metrics and entry kinds, saved with the state.
std::string mapping_hash(std::span<const Mapping> mappings);

State capture_state(const Pipeline& pipeline, const MetricStore& store, const std::vector<int>& families,
                    const std::vector<FilePosition>& positions, double now_ms);

// Checks that `state` fits the running mapping (families, label counts,
// buckets); throws StateError if not. Nothing is changed then.
void check_state(const State& state, const MetricStore& store, const std::vector<int>& families);

// Restores metric values, open starts and counters (after check_state).
void restore_state(const State& state, Pipeline& pipeline, MetricStore& store, double now_ms);

}  // namespace ailog

namespace ailog {

// Commits the state every `interval_ms` and when asked, counting commits and
// failures in the pipeline's stats. Pipeline thread only.
class Checkpointer {
public:
    Checkpointer(std::string path, double interval_ms, Pipeline& pipeline, const MetricStore& store,
                 const Tailer& tailer);
    void maybe_commit(double now_ms);
    bool commit(double now_ms);

private:
    std::string path_;
    double interval_ms_;
    Pipeline& pipeline_;
    const MetricStore& store_;
    const Tailer& tailer_;
    double next_due_ms_ = 0;
    double last_failure_log_ms_ = -1e18;
};

// Moves an unusable state file aside (PATH.corrupt-<unix time>) and says so.
void set_aside_state_file(const std::string& path, const std::string& why);

}  // namespace ailog
