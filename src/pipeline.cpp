// Pipeline: line -> payload -> event -> metric updates, and skip accounting.
#include "pipeline.hpp"

#include <spdlog/spdlog.h>

namespace ailog {
namespace {

// Reasons that describe ordinary log lines rather than damage.
bool is_routine(SkipReason r) {
    return r == SkipReason::Empty || r == SkipReason::NotMatched || r == SkipReason::NotJson;
}

std::string sample_of(std::string_view line) {
    constexpr size_t kMax = 160;
    std::string out;
    for (char c : line.substr(0, kMax)) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f)
            out += fmt::format("\\x{:02x}", u);
        else
            out += c;
    }
    if (line.size() > kMax) out += "…";
    return out;
}

}  // namespace

Pipeline::Pipeline(const Mapping& mapping, MetricStore& store, const Clock& clock, PipelineOptions options)
    : mapping_(mapping),
      clock_(clock),
      options_(options),
      decoder_(mapping),
      deriver_(mapping, store, options.correlation),
      self_(store, mapping, deriver_.families()) {}

int Pipeline::open_source(std::string_view name) {
    if (!free_sources_.empty()) {
        const int id = free_sources_.back();
        free_sources_.pop_back();
        source_names_[static_cast<size_t>(id)] = name;
        unwrappers_[static_cast<size_t>(id)].reset(options_.wrapper);
        return id;
    }
    source_names_.emplace_back(name);
    unwrappers_.emplace_back(options_.wrapper, options_.max_line_bytes);
    return static_cast<int>(source_names_.size() - 1);
}

void Pipeline::close_source(int source) {
    unwrappers_[static_cast<size_t>(source)].reset(options_.wrapper);
    source_names_[static_cast<size_t>(source)].clear();
    free_sources_.push_back(source);
}

Pipeline::SourceSnapshot Pipeline::snapshot_source(int source) const {
    const Unwrapper& u = unwrappers_[static_cast<size_t>(source)];
    SourceSnapshot s;
    if (u.kind() != WrapperKind::Auto) s.wrapper = to_string(u.kind());
    s.partial_stdout = u.partial("stdout");
    s.partial_stderr = u.partial("stderr");
    return s;
}

void Pipeline::restore_source(int source, const SourceSnapshot& s) {
    Unwrapper& u = unwrappers_[static_cast<size_t>(source)];
    u.reset(s.wrapper.empty() ? options_.wrapper : parse_wrapper_kind(s.wrapper).value_or(options_.wrapper));
    u.set_partial("stdout", s.partial_stdout);
    u.set_partial("stderr", s.partial_stderr);
}

void Pipeline::skip(int source, SkipReason reason, std::string_view line) {
    const auto r = static_cast<size_t>(reason);
    ++stats_.skipped[r];
    if (spdlog::should_log(spdlog::level::debug)) {
        // Debugging a log source: every skipped line, no rate limit.
        spdlog::debug("skipped line reason={} source={} sample=\"{}\"", to_string(reason),
                      source_names_[static_cast<size_t>(source)], sample_of(line));
        return;
    }
    if (is_routine(reason)) return;
    const double now = stats_.last_read_ms;
    if (now - last_warned_ms_[r] < 1000) {
        ++suppressed_[r];
        return;
    }
    spdlog::warn("skipped line reason={} source={} similar_suppressed={} sample=\"{}\"", to_string(reason),
                 source_names_[static_cast<size_t>(source)], suppressed_[r], sample_of(line));
    last_warned_ms_[r] = now;
    suppressed_[r] = 0;
}

void Pipeline::on_bytes(size_t n) {
    stats_.bytes += n;
    // One clock read per batch of lines, not per line.
    stats_.last_read_ms = clock_.now_ms();
}

void Pipeline::on_line(int source, std::string_view line, size_t capacity) {
    ++stats_.lines;
    auto on_skip = [&](SkipReason r) { skip(source, r, line); };
    auto on_payload = [&](const Payload& p) {
        if (auto reason = decoder_.decode(p.text, p.capacity, event_)) {
            skip(source, *reason, p.text);
            return;
        }
        if (!event_.has_time) {
            if (p.time_ms) {
                event_.time_ms = *p.time_ms;
            } else {
                ++stats_.entries_without_time;
                if (!options_.arrival_time_fallback) return;
                event_.time_ms = clock_.now_ms();
            }
        }
        deriver_.apply(event_);
        stats_.last_entry_ms = event_.time_ms;
    };
    unwrappers_[static_cast<size_t>(source)].feed(wrapper_parser_, line, capacity, on_payload, on_skip);
}

void Pipeline::on_too_long(int source) {
    ++stats_.lines;
    skip(source, SkipReason::TooLong, {});
}

void Pipeline::on_source_reset(int source) {
    unwrappers_[static_cast<size_t>(source)].reset(options_.wrapper);
}

void Pipeline::on_read_error(int) {
    ++stats_.read_errors;
}

void Pipeline::on_batch_end(bool idle) {
    if (idle && options_.expire_when_idle) deriver_.expire(clock_.now_ms());
    publish();
}

void Pipeline::publish() {
    self_.publish(stats_, deriver_.stats(), deriver_.correlation().size());
}

}  // namespace ailog
