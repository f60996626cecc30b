// State serialisation (JSON written by hand, read with simdjson's DOM API)
// and atomic file replacement.
#include "state/state.hpp"

#include <fcntl.h>
#include <simdjson.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "common/json_string.hpp"

namespace ailog {
namespace {

constexpr std::string_view kFormat = "ailog_exporter-state";
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64_encode(std::string_view in) {
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const uint32_t v = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8) | uint8_t(in[i + 2]);
        out += kB64[v >> 18];
        out += kB64[(v >> 12) & 63];
        out += kB64[(v >> 6) & 63];
        out += kB64[v & 63];
    }
    if (i < in.size()) {
        uint32_t v = uint32_t(uint8_t(in[i])) << 16;
        if (i + 1 < in.size()) v |= uint32_t(uint8_t(in[i + 1])) << 8;
        out += kB64[v >> 18];
        out += kB64[(v >> 12) & 63];
        out += i + 1 < in.size() ? kB64[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

std::string base64_decode(std::string_view in) {
    if (in.size() % 4 != 0) throw StateError("bad base64 length");
    std::string out;
    out.reserve(in.size() / 4 * 3);
    auto val = [](char c) -> int {
        const char* p = std::strchr(kB64, c);
        if (c == '\0' || p == nullptr) throw StateError("bad base64 character");
        return static_cast<int>(p - kB64);
    };
    for (size_t i = 0; i < in.size(); i += 4) {
        const int a = val(in[i]), b = val(in[i + 1]);
        out += static_cast<char>((a << 2) | (b >> 4));
        if (in[i + 2] != '=') {
            const int c = val(in[i + 2]);
            out += static_cast<char>(((b & 15) << 4) | (c >> 2));
            if (in[i + 3] != '=') out += static_cast<char>(((c & 3) << 6) | val(in[i + 3]));
        }
    }
    return out;
}

void put_strings(std::string& out, const std::vector<std::string>& v) {
    out += '[';
    for (size_t i = 0; i < v.size(); ++i) {
        if (i) out += ',';
        append_json_string(out, v[i]);
    }
    out += ']';
}

// Doubles as the shortest text that reads back to the same value.
void put_double(std::string& out, double d) {
    fmt::format_to(std::back_inserter(out), "{}", d);
}

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

std::string get_str(const element& e) {
    return std::string(std::string_view(e));
}
uint64_t get_u64(const element& e) {
    return uint64_t(e);
}
double get_num(const element& e) {
    if (e.is_double()) return double(e);
    if (e.is_uint64()) return static_cast<double>(uint64_t(e));
    return static_cast<double>(int64_t(e));
}
uint64_t get_hex(const element& e) {
    const std::string s = get_str(e);
    if (s.empty() || s.size() > 16 || s.find_first_not_of("0123456789abcdef") != std::string::npos)
        throw StateError(fmt::format("bad hex number {}", s));
    return std::stoull(s, nullptr, 16);
}
// An optional boolean member: false when absent (files written before it existed).
bool get_flag(const element& obj, const char* key) {
    element e;
    if (obj[key].get(e)) return false;
    return bool(e);
}
std::vector<std::string> get_strings(const element& e) {
    std::vector<std::string> v;
    for (element x : array(e)) v.push_back(get_str(x));
    return v;
}

}  // namespace

std::string serialize_state(const State& s) {
    std::string out;
    out += "{\"format\":";
    append_json_string(out, kFormat);
    fmt::format_to(std::back_inserter(out), ",\"version\":{},\"written_at_ms\":", s.version);
    put_double(out, s.written_at_ms);
    out += ",\"last_entry_ms\":";
    put_double(out, s.last_entry_ms);
    if (!s.mapping.empty()) {
        out += ",\"mapping\":";
        append_json_string(out, s.mapping);
    }

    out += ",\n\"files\":[";
    for (size_t i = 0; i < s.files.size(); ++i) {
        const FileState& f = s.files[i];
        out += i ? ",\n" : "\n";
        out += "{\"path\":";
        append_json_string(out, f.path);
        fmt::format_to(std::back_inserter(out),
                       ",\"dev\":{},\"ino\":{},\"fingerprint_len\":{},\"fingerprint\":\"{:x}\",\"deep_len\":{},"
                       "\"deep_fingerprint\":\"{:x}\",\"offset\":{},\"mid_line\":{},\"wrapper\":",
                       f.dev, f.ino, f.fingerprint_len, f.fingerprint, f.deep_len, f.deep_fingerprint, f.offset,
                       f.mid_line);
        append_json_string(out, f.wrapper);
        out += ",\"partial_stdout\":";
        append_json_string(out, base64_encode(f.partial_stdout));
        out += ",\"partial_stderr\":";
        append_json_string(out, base64_encode(f.partial_stderr));
        fmt::format_to(std::back_inserter(out), ",\"overlong_stdout\":{},\"overlong_stderr\":{}}}", f.overlong_stdout,
                       f.overlong_stderr);
    }

    out += "],\n\"families\":[";
    for (size_t i = 0; i < s.families.size(); ++i) {
        const FamilyState& fam = s.families[i];
        out += i ? ",\n" : "\n";
        out += "{\"name\":";
        append_json_string(out, fam.name);
        if (!fam.shape.empty()) {
            out += ",\"shape\":";
            append_json_string(out, fam.shape);
        }
        out += ",\"series\":[";
        for (size_t j = 0; j < fam.series.size(); ++j) {
            const SeriesState& se = fam.series[j];
            out += j ? ",\n" : "\n";
            out += "{\"labels\":";
            put_strings(out, se.labels);
            out += ",\"value\":";
            put_double(out, se.value);
            if (!se.buckets.empty())
                fmt::format_to(std::back_inserter(out), ",\"buckets\":[{}]", fmt::join(se.buckets, ","));
            out += '}';
        }
        out += "]}";
    }

    out += "],\n\"open_starts\":[";
    for (size_t i = 0; i < s.open_starts.size(); ++i) {
        const OpenStartState& o = s.open_starts[i];
        out += i ? ",\n" : "\n";
        fmt::format_to(std::back_inserter(out), "{{\"key_a\":\"{:x}\",\"key_b\":\"{:x}\",\"start_ms\":", o.key_a,
                       o.key_b);
        put_double(out, o.start_ms);
        out += ",\"input\":";
        append_json_string(out, o.input);
        if (!o.mapping.empty()) {
            out += ",\"mapping\":";
            append_json_string(out, o.mapping);
        }
        if (o.has_in_flight) {
            out += ",\"in_flight_labels\":";
            put_strings(out, o.in_flight_labels);
        }
        if (!o.from_start.empty()) {
            out += ",\"from_start\":{";
            for (size_t j = 0; j < o.from_start.size(); ++j) {
                if (j) out += ',';
                append_json_string(out, o.from_start[j].first);
                out += ':';
                append_json_string(out, o.from_start[j].second);
            }
            out += '}';
        }
        out += '}';
    }

    out += "],\n\"counters\":{";
    for (size_t i = 0; i < s.counters.size(); ++i) {
        if (i) out += ',';
        append_json_string(out, s.counters[i].name);
        fmt::format_to(std::back_inserter(out), ":{}", s.counters[i].value);
    }
    out += "}}\n";
    return out;
}

State parse_state(std::string_view json) {
    State s;
    try {
        simdjson::dom::parser parser;
        const simdjson::padded_string padded(json);
        const element root = parser.parse(padded);
        const object top(root);
        if (std::string_view(top["format"]) != kFormat) throw StateError("not an ailog_exporter state file");
        const int64_t version = int64_t(top["version"]);
        if (version != kStateVersion)
            throw StateError(
                fmt::format("state format version {} is not the supported version {}", version, kStateVersion));
        s.written_at_ms = get_num(top["written_at_ms"]);
        s.last_entry_ms = get_num(top["last_entry_ms"]);
        std::string_view mapping;
        if (!top["mapping"].get(mapping)) s.mapping = mapping;
        for (element fe : array(top["files"])) {
            FileState f;
            f.path = get_str(fe["path"]);
            f.dev = get_u64(fe["dev"]);
            f.ino = get_u64(fe["ino"]);
            f.fingerprint_len = static_cast<uint32_t>(get_u64(fe["fingerprint_len"]));
            f.fingerprint = get_hex(fe["fingerprint"]);
            f.deep_len = static_cast<uint32_t>(get_u64(fe["deep_len"]));
            f.deep_fingerprint = get_hex(fe["deep_fingerprint"]);
            f.offset = get_u64(fe["offset"]);
            f.wrapper = get_str(fe["wrapper"]);
            f.partial_stdout = base64_decode(std::string_view(fe["partial_stdout"]));
            f.partial_stderr = base64_decode(std::string_view(fe["partial_stderr"]));
            f.mid_line = get_flag(fe, "mid_line");
            f.overlong_stdout = get_flag(fe, "overlong_stdout");
            f.overlong_stderr = get_flag(fe, "overlong_stderr");
            s.files.push_back(std::move(f));
        }
        for (element fame : array(top["families"])) {
            FamilyState fam;
            fam.name = get_str(fame["name"]);
            std::string_view shape;
            if (!fame["shape"].get(shape)) fam.shape = shape;
            for (element se : array(fame["series"])) {
                SeriesState ss;
                ss.labels = get_strings(se["labels"]);
                ss.value = get_num(se["value"]);
                element buckets;
                if (!se["buckets"].get(buckets))
                    for (element b : array(buckets)) ss.buckets.push_back(get_u64(b));
                fam.series.push_back(std::move(ss));
            }
            s.families.push_back(std::move(fam));
        }
        for (element oe : array(top["open_starts"])) {
            OpenStartState o;
            o.key_a = get_hex(oe["key_a"]);
            o.key_b = get_hex(oe["key_b"]);
            o.start_ms = get_num(oe["start_ms"]);
            std::string_view input;
            if (!oe["input"].get(input)) o.input = input;
            std::string_view of_mapping;
            if (!oe["mapping"].get(of_mapping)) o.mapping = of_mapping;
            element labels;
            if (!oe["in_flight_labels"].get(labels)) {
                o.has_in_flight = true;
                o.in_flight_labels = get_strings(labels);
            }
            element kept;
            if (!oe["from_start"].get(kept))
                for (auto [name, value] : object(kept)) o.from_start.emplace_back(std::string(name), get_str(value));
            s.open_starts.push_back(std::move(o));
        }
        for (auto [key, val] : object(top["counters"])) s.counters.push_back({std::string(key), get_u64(val)});
    } catch (const simdjson::simdjson_error& e) {
        throw StateError(fmt::format("malformed state: {}", e.what()));
    }
    return s;
}

void write_file_atomically(const std::string& path, std::string_view data) {
    const std::string tmp = fmt::format("{}.tmp", path);
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw StateError(fmt::format("cannot create {}: {}", tmp, std::strerror(errno)));
    size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            const int err = errno;
            ::close(fd);
            throw StateError(fmt::format("cannot write {}: {}", tmp, std::strerror(err)));
        }
        done += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0) {
        const int err = errno;
        ::close(fd);
        throw StateError(fmt::format("cannot fsync {}: {}", tmp, std::strerror(err)));
    }
    ::close(fd);
    if (::rename(tmp.c_str(), path.c_str()) != 0)
        throw StateError(fmt::format("cannot rename {} to {}: {}", tmp, path, std::strerror(errno)));
    // The rename itself is durable once the directory is synced.
    std::filesystem::path dir = std::filesystem::path(path).parent_path();
    if (dir.empty()) dir = std::filesystem::current_path();
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
}

std::optional<std::string> read_state_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return std::nullopt;
        throw StateError(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
    }
    std::string data;
    char buf[1 << 16];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            const int err = errno;
            ::close(fd);
            throw StateError(fmt::format("cannot read {}: {}", path, std::strerror(err)));
        }
        if (n == 0) break;
        data.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return data;
}

}  // namespace ailog
