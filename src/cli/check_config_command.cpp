// check-config: each metric as name, type, labels and what updates it.
#include "cli/check_config_command.hpp"

#include <iostream>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "cli/options.hpp"

namespace ailog::cli {

int run_check_config(const std::string& file) {
    std::shared_ptr<const Mappings> mappings;
    if (auto problems = load_config(file, mappings)) {
        std::cerr << "ailog_exporter: error: " << *problems << "\n";
        return 2;
    }
    static constexpr const char* kTypes[] = {"counter", "gauge", "histogram"};
    size_t metrics = 0, kinds = 0, fields = 0;
    for (const Mapping& m : *mappings) {
        const std::string in = m.name.empty() ? "" : fmt::format(" mapping={}", m.name);
        for (size_t i = 0; i < m.metrics.size(); ++i) {
            const MetricSpec& spec = m.metrics[i];
            std::vector<std::string> by;
            for (size_t k = 0; k < m.kinds.size(); ++k)
                for (const Rule& r : spec.rules)
                    if (r.entries & kind_bit(static_cast<int>(k))) {
                        by.push_back(m.kinds[k].name);
                        break;
                    }
            if (m.correlation.in_flight_metric == static_cast<int>(i)) by.push_back("open starts");
            std::cout << fmt::format("{} {} labels=[{}] updated_by=[{}]{}\n", spec.name,
                                     kTypes[static_cast<int>(spec.type)], fmt::join(spec.label_names, ","),
                                     fmt::join(by, ","), in);
        }
        metrics += m.metrics.size();
        kinds += m.kinds.size();
        fields += m.fields.size();
    }
    const std::string several = mappings->size() > 1 ? fmt::format("{} mappings, ", mappings->size()) : "";
    std::cout << fmt::format("{}: {}{} metrics, {} entry kinds, {} fields\n", file, several, metrics, kinds, fields);
    return 0;
}

}  // namespace ailog::cli
