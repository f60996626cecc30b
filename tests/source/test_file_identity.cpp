#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "source/file_identity.hpp"

using namespace ailog;
namespace fs = std::filesystem;

namespace {

FileIdentity saved_file(uint64_t dev, uint64_t ino, uint32_t fp_len, uint64_t fp, uint64_t offset) {
    FileIdentity s;
    s.dev = dev;
    s.ino = ino;
    s.fingerprint_len = fp_len;
    s.fingerprint = fp;
    s.offset = offset;
    return s;
}

// A file on disk with `text`, open for reading.
struct TempFile {
    explicit TempFile(const std::string& text, const std::string& name = "f") {
        static int n = 0;
        path = fs::temp_directory_path() /
               ("ailog-identity-" + std::to_string(::getpid()) + "-" + name + "-" + std::to_string(n++));
        write(text);
        fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        REQUIRE(fd >= 0);
    }
    ~TempFile() {
        ::close(fd);
        fs::remove(path);
    }
    void write(const std::string& text) const { std::ofstream(path, std::ios::binary | std::ios::trunc) << text; }
    off_t size() const { return static_cast<off_t>(fs::file_size(path)); }
    fs::path path;
    int fd = -1;
};

std::string lines(char c, size_t bytes) {
    std::string s;
    while (s.size() < bytes) s += std::string(79, c) + "\n";
    s.resize(bytes);
    return s;
}

}  // namespace

TEST_CASE("a fingerprint grows with the file up to its two lengths, and tells the file again") {
    const std::string text = lines('a', 100000);
    TempFile f(text.substr(0, 100));
    Fingerprint fp;
    extend_fingerprint(f.fd, f.size(), fp);
    CHECK(fp.len == 100);
    CHECK_FALSE(fp.complete());
    CHECK(fp.deep_len == 0);

    f.write(text);
    extend_fingerprint(f.fd, f.size(), fp);
    CHECK(fp.complete());
    CHECK(fp.deep_len == kDeepFingerprintBytes);
    CHECK(content_matches(f.fd, f.size(), fp));
    CHECK_FALSE(fingerprint_changed(f.fd, fp));

    // The same first 256 bytes, then different: only the deep fingerprint tells them apart.
    TempFile banner(text.substr(0, 1000) + lines('b', 99000), "banner");
    CHECK(prefix_hash(banner.fd, kFingerprintBytes) == fp.hash);
    CHECK_FALSE(content_matches(banner.fd, banner.size(), fp));

    // Truncated, then rewritten with other bytes: the first bytes changed.
    f.write(lines('c', 300));
    CHECK(fingerprint_changed(f.fd, fp));
    f.write("");
    CHECK(fingerprint_changed(f.fd, fp));  // shorter than the fingerprint
    CHECK_FALSE(content_matches(f.fd, f.size(), fp));
}

TEST_CASE("two files share a prefix only as far as their bytes are equal") {
    TempFile a(lines('a', 20000) + "x");
    TempFile b(lines('a', 20000) + "y");
    CHECK(same_prefix(a.fd, b.fd, 20000));
    CHECK_FALSE(same_prefix(a.fd, b.fd, 20001));
    CHECK_FALSE(same_prefix(a.fd, b.fd, 30000));  // beyond both ends
}

TEST_CASE("start at end: after the last byte, inside a line when it is not a newline") {
    CHECK(start_at_end(0, 'x') == StartPoint{0, false});
    CHECK(start_at_end(10, '\n') == StartPoint{10, false});
    CHECK(start_at_end(10, '}') == StartPoint{10, true});
}

TEST_CASE("a file found at start-up continues the saved file of its inode, else of its content") {
    std::vector<FileIdentity> saved{saved_file(1, 10, kFingerprintBytes, 111, 500),
                                    saved_file(1, 20, kFingerprintBytes, 222, 600), saved_file(1, 30, 40, 333, 30)};
    std::vector<bool> used(saved.size(), false);
    auto content = [](uint64_t hash) { return [hash](const Fingerprint& fp) { return fp.hash == hash; }; };

    SUBCASE("same inode, same content") {
        CHECK(find_saved(saved, used, 1, 20, content(222)) == 1);
        CHECK(used == std::vector<bool>{false, true, false});
        // Used once: the next file with those bytes is another file.
        CHECK(find_saved(saved, used, 1, 20, content(222)) == std::nullopt);
    }
    SUBCASE("same inode, other content: a new file in a reused inode, unless its content is saved elsewhere") {
        CHECK(find_saved(saved, used, 1, 20, content(999)) == std::nullopt);
        CHECK(find_saved(saved, used, 1, 20, content(111)) == 0);  // renamed into the inode's place
    }
    SUBCASE("another inode with a saved file's content: renamed while the exporter was down") {
        CHECK(find_saved(saved, used, 2, 77, content(111)) == 0);
    }
    SUBCASE("a short fingerprint is not enough to follow a file to another inode") {
        CHECK(find_saved(saved, used, 2, 77, content(333)) == std::nullopt);
        CHECK(find_saved(saved, used, 1, 30, content(333)) == 2);
    }
    SUBCASE("the saved fingerprint is the one compared") {
        saved[1].deep_len = 5000;
        saved[1].deep_fingerprint = 4444;
        std::vector<Fingerprint> asked;
        find_saved(saved, used, 1, 20, [&](const Fingerprint& fp) {
            asked.push_back(fp);
            return false;
        });
        REQUIRE(!asked.empty());
        CHECK(asked[0].len == kFingerprintBytes);
        CHECK(asked[0].hash == 222);
        CHECK(asked[0].deep_len == 5000);
        CHECK(asked[0].deep_hash == 4444);
    }
}

TEST_CASE("truncation: shorter than what was read, or other first bytes") {
    int asked = 0;
    auto first_bytes = [&](bool changed) {
        return [&asked, changed] {
            ++asked;
            return changed;
        };
    };
    CHECK(truncated(99, 100, first_bytes(false)));
    CHECK(asked == 0);  // the size is enough: the first bytes are not read
    CHECK_FALSE(truncated(100, 100, first_bytes(false)));
    CHECK_FALSE(truncated(5000, 100, first_bytes(false)));
    CHECK(truncated(5000, 100, first_bytes(true)));  // copytruncate, then written past the old offset
    CHECK(asked == 3);
}

TEST_CASE("a copy resumes where its original's stream was delivered, within the copy") {
    CHECK(resume_in_copy(500, false, 800) == StartPoint{500, false});
    CHECK(resume_in_copy(500, true, 800) == StartPoint{500, true});
    CHECK(resume_in_copy(500, true, 500) == StartPoint{500, true});
    // The copy is shorter (it was taken before the last lines were written).
    CHECK(resume_in_copy(500, true, 300) == StartPoint{300, false});

    const RetiredStream r{{}, 500, true, 7, 0};
    CHECK(resume_retired(r, 800) == StartPoint{500, true});
    CHECK(resume_retired(r, 300) == StartPoint{300, false});
}

TEST_CASE("a new short file waits to be identified, from when it was first seen") {
    IdentifyGate gate(1000);
    CHECK(gate.ready(1, 5, kFingerprintBytes, 0));  // long enough: at once
    CHECK_FALSE(gate.ready(1, 6, 10, 0));           // first seen at 0
    CHECK_FALSE(gate.ready(1, 6, 10, 999));
    CHECK(gate.ready(1, 6, 10, 1000));
    CHECK_FALSE(gate.ready(1, 7, 10, 1000));  // another file: its own wait
    CHECK(gate.ready(1, 7, 200, 1500) == false);
    CHECK(gate.ready(1, 7, 300, 1500));  // grew past a fingerprint: no more waiting
    gate.forget(1, 6);
    CHECK_FALSE(gate.ready(1, 6, 10, 5000));  // forgotten: a new wait
    CHECK(gate.ready(1, 6, 10, 6000));
}

TEST_CASE("a truncated file's stream waits for its copy for a while, then is closed") {
    RetiredStreams retired(60000);
    Fingerprint a{kFingerprintBytes, 0xa, 0, 0};
    Fingerprint b{kFingerprintBytes, 0xb, 0, 0};
    retired.add({a, 100, false, 1, 1000});
    retired.add({b, 200, true, 2, 30000});
    retired.add({a, 300, false, 3, 40000});

    std::vector<int> closed;
    auto close = [&](int source) { closed.push_back(source); };
    retired.expire(60999, close);
    CHECK(closed.empty());

    // The first stream with the copy's fingerprint is the one it continues.
    const auto got = retired.take([&](const RetiredStream& r) { return r.fp.hash == 0xa; });
    REQUIRE(got);
    CHECK(got->source == 1);
    CHECK(got->offset == 100);
    CHECK(retired.size() == 2);
    CHECK_FALSE(retired.take([](const RetiredStream& r) { return r.fp.hash == 0xc; }));

    retired.expire(90000, close);
    CHECK(closed == std::vector<int>{2});
    retired.expire(100000, close);
    CHECK(closed == std::vector<int>{2, 3});
    CHECK(retired.size() == 0);
}
