#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "source/discovery.hpp"
#include "source/watches.hpp"
#include "test_util.hpp"

using namespace ailog;
namespace fs = std::filesystem;

namespace {

struct Dir : test::TempDir {
    Dir() : TempDir("watches") {}
};

}  // namespace

TEST_CASE("watches report a new file in a watched directory, and writes to a watched file") {
    Dir d;
    Watches w(true);
    w.watch_dir(d.root.string());
    bool overflow = true;
    std::vector<Watches::FileEvent> events;
    auto collect = [&](const Watches::FileEvent& e) { events.push_back(e); };
    CHECK_FALSE(w.drain(collect, overflow));
    CHECK_FALSE(overflow);

    const std::string log = d.file("app.log");
    w.wait(5000, false);                // returns on the event
    CHECK(w.drain(collect, overflow));  // a file appeared: rescan

    const auto found = discover({parse_path_spec(log)}, false);
    REQUIRE(found.size() == 1);
    const int wd = w.watch_file(log, found[0].dev, found[0].ino);
    REQUIRE(wd >= 0);
    CHECK(w.watch_file(log, found[0].dev, found[0].ino + 1) < 0);  // the path names another file
    std::ofstream(log, std::ios::app) << "{}\n";
    w.wait(5000, false);
    CHECK_FALSE(w.drain(collect, overflow));  // written: read it, no rescan
    REQUIRE(!events.empty());
    CHECK(events.back().wd == wd);
    CHECK_FALSE(events.back().moved_or_deleted);

    events.clear();
    fs::rename(log, d.path("app.log.1"));
    w.wait(5000, false);
    CHECK(w.drain(collect, overflow));  // renamed: rescan
    REQUIRE(!events.empty());
    CHECK(events.back().moved_or_deleted);
}

TEST_CASE("a wake-up from another thread ends a wait") {
    // A wait that missed it would last ten minutes: far past the test's timeout.
    Watches w(false);
    std::thread other([&] { w.wake(); });
    w.wait(600000, false);
    other.join();
}
