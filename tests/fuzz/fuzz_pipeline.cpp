// libFuzzer target: arbitrary bytes through framing, unwrapping, decoding and
// deriving. The first byte picks the wrapper; the rest is the stream.
// scripts/fuzz.sh builds and runs it on tests/fuzz/corpus/pipeline.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ailog/clock.hpp"
#include "ailog/mapping.hpp"
#include "ailog/metric_store.hpp"
#include "config/mapping_loader.hpp"
#include "pipeline/pipeline.hpp"
#include "source/line_framer.hpp"

namespace {
struct FixedClock final : ailog::Clock {
    double now_ms() const override { return 1748779200000.0; }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const bool quiet = (spdlog::set_level(spdlog::level::off), true);  // skipped lines are logged
    (void)quiet;
    if (size == 0) return 0;
    static const ailog::Mapping mapping = ailog::builtin_mapping();
    constexpr ailog::WrapperKind kinds[] = {ailog::WrapperKind::Auto, ailog::WrapperKind::None,
                                            ailog::WrapperKind::Docker, ailog::WrapperKind::Cri};
    ailog::MetricStore store(100);
    FixedClock clock;
    ailog::PipelineOptions options;
    options.decode.wrapper = kinds[data[0] % 4];
    options.decode.max_line_bytes = 4096;
    options.correlation.max_entries = 16;
    ailog::Pipeline pipeline(mapping, store, clock, options);
    const int source = pipeline.open_source("fuzz");
    ailog::LineFramer framer(options.decode.max_line_bytes, 256);
    std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    auto on_line = [&](std::string_view line, size_t cap) { pipeline.on_line(source, line, cap); };
    auto on_too_long = [&] { pipeline.on_too_long(source); };
    while (!rest.empty()) {
        auto area = framer.write_area(1);
        const size_t n = std::min({area.size(), rest.size(), size_t{97}});  // odd chunks split lines
        std::copy_n(rest.data(), n, area.data());
        framer.commit(n);
        rest.remove_prefix(n);
        framer.drain(on_line, on_too_long);
    }
    framer.finish(on_line, on_too_long);
    pipeline.publish();
    std::string out;
    store.render(out);
    return 0;
}
