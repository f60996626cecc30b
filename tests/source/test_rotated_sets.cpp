#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "source/rotated_sets.hpp"

using namespace ailog;
namespace fs = std::filesystem;

TEST_CASE("rotated sets are grouped by base name and ordered oldest first") {
    const fs::path dir = fs::temp_directory_path() / fs::path("ailog-rot-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    for (const char* f : {"app.log", "app.log.1", "app.log.2.gz", "app.log.10.gz", "other.log-20250601.gz",
                          "other.log-20250602", "other.log", "x.2025-06-01", "x.2025-05-31", "x"})
        std::ofstream(dir / f) << "{}\n";
    const auto sets = collect_rotated_sets({dir.string()}, false);
    fs::remove_all(dir);
    REQUIRE(sets.size() == 3);
    auto names = [&](size_t i) {
        std::vector<std::string> v;
        for (const auto& f : sets[i].files) v.push_back(fs::path(f).filename().string());
        return v;
    };
    CHECK(names(0) == std::vector<std::string>{"app.log.10.gz", "app.log.2.gz", "app.log.1", "app.log"});
    CHECK(names(1) == std::vector<std::string>{"other.log-20250601.gz", "other.log-20250602", "other.log"});
    CHECK(names(2) == std::vector<std::string>{"x.2025-05-31", "x.2025-06-01", "x"});
}

TEST_CASE("a missing path is an error naming it") {
    CHECK_THROWS_WITH_AS(collect_rotated_sets({"/nonexistent/app.log"}, false),
                         doctest::Contains("/nonexistent/app.log"), std::runtime_error);
}

TEST_CASE("a rotated file belongs to the set of its live file") {
    CHECK(rotated_set_name("/var/log/app.log") == "/var/log/app.log");
    CHECK(rotated_set_name("/var/log/app.log.1") == "/var/log/app.log");
    CHECK(rotated_set_name("/var/log/app.log.2.gz") == "/var/log/app.log");
    CHECK(rotated_set_name("/var/log/app.log-20250601") == "/var/log/app.log");
    CHECK(rotated_set_name("/var/lib/docker/containers/abc/abc-json.log.1") ==
          "/var/lib/docker/containers/abc/abc-json.log");
    // The kubelet's rotated container logs, compressed or not.
    CHECK(rotated_set_name("/var/log/pods/ns_p_1/c/0.log.20250601-120000") == "/var/log/pods/ns_p_1/c/0.log");
    CHECK(rotated_set_name("/var/log/pods/ns_p_1/c/0.log.20250601-120000.gz") == "/var/log/pods/ns_p_1/c/0.log");
    // A restarted container writes a new log: another process, another input.
    CHECK(rotated_set_name("/var/log/pods/ns_p_1/c/1.log") != rotated_set_name("/var/log/pods/ns_p_1/c/0.log"));
}
