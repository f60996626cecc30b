#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "source/discovery.hpp"
#include "test_util.hpp"

using namespace ailog;
namespace fs = std::filesystem;

namespace {

struct Dir : test::TempDir {
    Dir() : TempDir("discovery") {}
};

std::vector<std::string> names(const std::vector<Candidate>& found, const fs::path& root) {
    std::vector<std::string> out;
    for (const auto& c : found) out.push_back(fs::relative(c.path, root).string());
    return out;
}

}  // namespace

TEST_CASE("a PATH is a file, a directory or a pattern; a missing plain path is an error naming it") {
    Dir d;
    d.file("app.log");
    CHECK(parse_path_spec(d.path("app.log")).kind == PathSpec::Kind::File);
    CHECK(parse_path_spec(d.root.string()).kind == PathSpec::Kind::Dir);
    CHECK(parse_path_spec(d.path("*.log")).kind == PathSpec::Kind::Glob);
    CHECK(parse_path_spec(d.path("nothing-yet/[ab].log")).kind == PathSpec::Kind::Glob);  // may match later
    CHECK_THROWS_WITH_AS(parse_path_spec(d.path("missing.log")), doctest::Contains("missing.log"), std::runtime_error);
}

TEST_CASE("a scan finds regular files in order, each inode once, never compressed ones") {
    Dir d;
    d.file("b.log");
    d.file("a.log");
    d.file("a.log.1.gz");
    d.file("sub/c.log");
    fs::create_symlink(d.path("a.log"), d.path("z-link.log"));  // the same file under two names
    const std::vector<PathSpec> dir{parse_path_spec(d.root.string())};
    CHECK(names(discover(dir, false), d.root) == std::vector<std::string>{"a.log", "b.log"});
    CHECK(names(discover(dir, true), d.root) == std::vector<std::string>{"a.log", "b.log", "sub/c.log"});

    // Specs in their order; a file named twice is found once.
    const std::vector<PathSpec> several{parse_path_spec(d.path("sub/c.log")), parse_path_spec(d.path("*.log")),
                                        parse_path_spec(d.path("b.log"))};
    CHECK(names(discover(several, false), d.root) == std::vector<std::string>{"sub/c.log", "a.log", "b.log"});

    const auto found = discover({parse_path_spec(d.path("a.log"))}, false);
    REQUIRE(found.size() == 1);
    CHECK(found[0].size == 3);
    struct stat st {};
    REQUIRE(::stat(d.path("a.log").c_str(), &st) == 0);
    CHECK(found[0].ino == static_cast<uint64_t>(st.st_ino));
    CHECK(found[0].dev == static_cast<uint64_t>(st.st_dev));
}

TEST_CASE("a pattern matches what exists at each scan") {
    Dir d;
    const std::vector<PathSpec> pods{parse_path_spec(d.path("pods/*/*.log"))};
    CHECK(discover(pods, false).empty());
    d.file("pods/a/0.log");
    d.file("pods/b/0.log");
    d.file("pods/b/0.log.20250601-120000.gz");
    CHECK(names(discover(pods, false), d.root) == std::vector<std::string>{"pods/a/0.log", "pods/b/0.log"});
    fs::remove(d.path("pods/a/0.log"));
    CHECK(names(discover(pods, false), d.root) == std::vector<std::string>{"pods/b/0.log"});
}

TEST_CASE("where new files of a spec appear") {
    CHECK(watch_root({PathSpec::Kind::Dir, "/var/log/app"}) == "/var/log/app");
    CHECK(watch_root({PathSpec::Kind::File, "/var/log/app/app.log"}) == "/var/log/app");
    CHECK(watch_root({PathSpec::Kind::File, "app.log"}) == ".");
    CHECK(watch_root({PathSpec::Kind::Glob, "/var/log/pods/*/*/*.log"}) == "/var/log/pods");
    CHECK(watch_root({PathSpec::Kind::Glob, "/var/log/app-[0-9]/x/*.log"}) == "/var/log");
    CHECK(watch_root({PathSpec::Kind::Glob, "*.log"}) == ".");
}
