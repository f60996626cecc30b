// Replay inputs: expansion, rotated-set grouping and ordering, gzip reading.
#include "source/rotated_sets.hpp"

#include <fcntl.h>
#include <glob.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <stdexcept>

#include <fmt/format.h>

namespace ailog {
namespace {

namespace fs = std::filesystem;

// Reads fill whatever room the line buffer has (a 256 KiB buffer, grown only
// for a line longer than that), asking for no more than 64 KiB of it: asking
// for a full chunk after an incomplete line was moved to the front would
// reallocate the buffer to twice its size.
constexpr size_t kReadChunk = 256 * 1024;
constexpr size_t kMinRead = 64 * 1024;

// How a file sorts inside its set: higher numbers are older ("app.log.3"),
// dates older first ("app.log-20250601"), the live file last.
struct RotationKey {
    std::string base;  // set name
    int rank = 0;      // 0: numbered, 1: dated, 2: live
    long number = 0;
    std::string date;
};

bool all_digits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

RotationKey rotation_key(const std::string& path) {
    std::string name = path;
    for (const char* ext : {".gz", ".bz2", ".xz", ".zst"})
        if (name.size() > std::strlen(ext) && name.ends_with(ext)) name.resize(name.size() - std::strlen(ext));
    const std::string_view n = name;
    // app.log.3
    if (const size_t dot = n.rfind('.'); dot != std::string_view::npos && dot > 0) {
        const std::string_view num = n.substr(dot + 1);
        if (num.size() <= 4 && all_digits(num))
            return {std::string(n.substr(0, dot)), 0, std::stol(std::string(num)), {}};
    }
    // app.log-20250601 (logrotate's dateext, optionally with a time) or app.log.2025-06-01
    if (const size_t sep = n.find_last_of("-."); sep != std::string_view::npos && sep > 0) {
        const std::string_view date = n.substr(sep + 1);
        if (date.size() >= 8 && date.size() <= 14 && all_digits(date))
            return {std::string(n.substr(0, sep)), 1, 0, std::string(date)};
    }
    // 0.log.20250601-120000 (the kubelet's rotated container logs)
    if (n.size() > 16) {
        const std::string_view stamp = n.substr(n.size() - 15);
        if (n[n.size() - 16] == '.' && all_digits(stamp.substr(0, 8)) && stamp[8] == '-' &&
            all_digits(stamp.substr(9)))
            return {std::string(n.substr(0, n.size() - 16)), 1, 0, std::string(stamp)};
    }
    if (n.size() > 11) {
        const std::string_view date = n.substr(n.size() - 10);
        const char sep = n[n.size() - 11];
        if ((sep == '-' || sep == '.') && all_digits(date.substr(0, 4)) && date[4] == '-' &&
            all_digits(date.substr(5, 2)) && date[7] == '-' && all_digits(date.substr(8, 2)))
            return {std::string(n.substr(0, n.size() - 11)), 1, 0, std::string(date)};
    }
    return {name, 2, 0, {}};
}

}  // namespace

std::string rotated_set_name(const std::string& path) {
    return rotation_key(path).base;
}

std::vector<RotatedSet> collect_rotated_sets(const std::vector<std::string>& args, bool recursive) {
    std::vector<std::string> paths;
    std::set<std::pair<uint64_t, uint64_t>> inodes;
    auto consider = [&](const std::string& p) {
        struct stat st {};
        if (stat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;
        if (inodes.insert({st.st_dev, st.st_ino}).second) paths.push_back(p);
    };
    for (const auto& arg : args) {
        if (arg.find_first_of("*?[") != std::string::npos) {
            glob_t g{};
            if (glob(arg.c_str(), 0, nullptr, &g) == 0)
                for (size_t i = 0; i < g.gl_pathc; ++i) consider(g.gl_pathv[i]);
            globfree(&g);
            continue;
        }
        struct stat st {};
        if (stat(arg.c_str(), &st) != 0)
            throw std::runtime_error(fmt::format("cannot read {}: {}", arg, std::strerror(errno)));
        if (S_ISDIR(st.st_mode)) {
            std::vector<std::string> found;
            std::error_code ec;
            if (recursive) {
                for (fs::recursive_directory_iterator it(arg, ec), end; !ec && it != end; it.increment(ec))
                    found.push_back(it->path().string());
            } else {
                for (fs::directory_iterator it(arg, ec), end; !ec && it != end; it.increment(ec))
                    found.push_back(it->path().string());
            }
            if (ec) throw std::runtime_error(fmt::format("cannot list {}: {}", arg, ec.message()));
            std::sort(found.begin(), found.end());
            for (const auto& f : found) consider(f);
            continue;
        }
        if (access(arg.c_str(), R_OK) != 0)
            throw std::runtime_error(fmt::format("cannot read {}: {}", arg, std::strerror(errno)));
        consider(arg);
    }

    std::map<std::string, std::vector<std::pair<RotationKey, std::string>>> groups;
    for (const auto& p : paths) {
        RotationKey k = rotation_key(p);
        groups[k.base].emplace_back(std::move(k), p);
    }
    std::vector<RotatedSet> sets;
    for (auto& [base, members] : groups) {
        std::sort(members.begin(), members.end(), [](const auto& a, const auto& b) {
            if (a.first.rank != b.first.rank) return a.first.rank < b.first.rank;
            if (a.first.number != b.first.number) return a.first.number > b.first.number;  // .3 before .2
            return a.first.date < b.first.date;
        });
        RotatedSet set;
        set.name = base;
        for (auto& [key, path] : members) {
            struct stat st {};
            if (stat(path.c_str(), &st) == 0) set.bytes += static_cast<uint64_t>(st.st_size);
            set.files.push_back(path);
        }
        sets.push_back(std::move(set));
    }
    return sets;
}

SetReader::SetReader(const RotatedSet& set, size_t max_line_bytes) : set_(set), framer_(max_line_bytes, kReadChunk) {}

SetReader::~SetReader() {
    close_current();
}

const std::string& SetReader::current_file() const {
    static const std::string none;
    return index_ == 0 ? none : set_.files[index_ - 1];
}

uint64_t SetReader::disk_bytes_done() const {
    if (gz_ != nullptr) return done_before_ + static_cast<uint64_t>(std::max<z_off_t>(gzoffset(gz_), 0));
    if (fd_ >= 0) return done_before_ + static_cast<uint64_t>(std::max<off_t>(lseek(fd_, 0, SEEK_CUR), 0));
    return done_before_;
}

void SetReader::close_current() {
    if (fd_ < 0) return;
    struct stat st {};
    if (fstat(fd_, &st) == 0) done_before_ += static_cast<uint64_t>(st.st_size);
    if (gz_ != nullptr)
        gzclose(gz_);  // closes fd_ too
    else
        ::close(fd_);
    gz_ = nullptr;
    fd_ = -1;
}

bool SetReader::open_next() {
    close_current();
    while (index_ < set_.files.size()) {
        const std::string& path = set_.files[index_++];
        fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd_ < 0) {
            spdlog::warn("cannot read {}: {}", path, std::strerror(errno));
            ++read_errors_;
            continue;
        }
        posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
        unsigned char magic[2] = {0, 0};
        if (pread(fd_, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
            gz_ = gzdopen(fd_, "rb");
            if (gz_ == nullptr) {
                ::close(fd_);
                fd_ = -1;
                ++read_errors_;
                continue;
            }
            gzbuffer(gz_, 1 << 20);
        }
        framer_.reset();
        return true;
    }
    return false;
}

long SetReader::read_into(char* buf, size_t n) {
    n = std::min<size_t>(n, 1u << 30);
    if (gz_ != nullptr) return gzread(gz_, buf, static_cast<unsigned>(n));
    for (;;) {
        const ssize_t r = ::read(fd_, buf, n);
        if (r < 0 && errno == EINTR) continue;
        return static_cast<long>(r);
    }
}

SetReader::Next SetReader::next(std::string_view& line, size_t& capacity) {
    for (;;) {
        switch (framer_.next(line, capacity)) {
            case LineFramer::Framed::Line:
                return Next::Line;
            case LineFramer::Framed::TooLong:
                return Next::TooLong;
            case LineFramer::Framed::NeedMore:
                break;
        }
        if (fd_ < 0 && !open_next()) return Next::End;
        auto area = framer_.write_area(kMinRead);
        const long n = read_into(area.data(), area.size());
        if (n > 0) {
            framer_.commit(static_cast<size_t>(n));
            bytes_read_ += static_cast<uint64_t>(n);
            continue;
        }
        if (n < 0) {
            int code = 0;
            spdlog::warn("read error in {}: {}", current_file(),
                         gz_ != nullptr ? gzerror(gz_, &code) : std::strerror(errno));
            ++read_errors_;
        }
        // End of this file: its last line counts even without a newline. The
        // next file is opened on the next call, so the line stays valid.
        close_current();
        if (framer_.rest(line, capacity)) return Next::Line;
        if (!open_next()) return Next::End;
    }
}

}  // namespace ailog
