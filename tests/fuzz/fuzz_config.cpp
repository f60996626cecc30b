// libFuzzer target: mapping files and web config files. The first byte picks
// which; the rest is the YAML. A file either loads or is refused with its
// problems: nothing else may happen. A mapping that loads runs a few lines.
#include <simdjson.h>

#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ailog/clock.hpp"
#include "ailog/metric_store.hpp"
#include "config/mapping_loader.hpp"
#include "config/web_config.hpp"
#include "pipeline/pipeline.hpp"

namespace {

struct FixedClock final : ailog::Clock {
    double now_ms() const override { return 1748779200000.0; }
};

void run(const ailog::Mappings& mappings) {
    ailog::MetricStore store(100);
    FixedClock clock;
    ailog::Pipeline pipeline(mappings, store, clock, {});
    const int source = pipeline.open_source("fuzz");
    for (
        std::string line : {
            R"({"message":"executeParse - start","requestId":"a","capability":"c","operation":"o","timestamp":"2025-06-01T12:00:00Z"})",
            R"({"msg":"request completed","reqId":"a","res":{"statusCode":200},"responseTime":1.5,"time":1717243200000,"level":30})",
            R"({"level":"error","message":"x","time":"01/Jun/2025:12:00:00 +0000","meta":{"a":[1,2,{"b":null}]}})",
            R"({"message":"executeParse - succeeded","requestId":"a","capability":"c","operation":"o","model":"gpt-4o-2024-08-06","result":{"durationMs":12,"usage":{"tokens":{"input":9,"cached":4,"output":3}}},"timestamp":"2025-06-01T12:00:01Z"})",
        }) {
        const size_t length = line.size();
        line.append(simdjson::SIMDJSON_PADDING, ' ');
        pipeline.on_line(source, std::string_view(line.data(), length), line.size());
    }
    pipeline.publish();
    std::string out;
    store.render(out);
    store.render(out, {}, ailog::Exposition::OpenMetrics);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const bool quiet = (spdlog::set_level(spdlog::level::off), true);  // skipped lines are logged
    (void)quiet;
    if (size == 0) return 0;
    const std::string_view yaml(reinterpret_cast<const char*>(data) + 1, size - 1);
    try {
        if (data[0] % 2 == 0) {
            run(ailog::load_mappings(yaml, "fuzz.yml"));
        } else {
            ailog::load_web_config(yaml, "/nonexistent/web.yml");
        }
    } catch (const ailog::ConfigError& e) {
        if (e.problems().empty()) __builtin_trap();  // refused without saying why
    }
    return 0;
}
