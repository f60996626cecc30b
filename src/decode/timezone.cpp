// TimeZone: IANA zones through date/tz, and the per-decoder span cache.
#include "decode/timezone.hpp"

#include <date/tz.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>

namespace ailog {
namespace {

using Seconds = std::chrono::seconds;

// The zone TZ names, as the C library reads it: ":America/New_York",
// "America/New_York" or a path under the zoneinfo directory.
std::string tz_environment() {
    const char* tz = std::getenv("TZ");
    if (tz == nullptr) return {};
    std::string_view v = tz;
    if (!v.empty() && v[0] == ':') v.remove_prefix(1);
    for (std::string_view dir : {"/usr/share/zoneinfo/", "/usr/lib/zoneinfo/", "/usr/share/lib/zoneinfo/"})
        if (v.starts_with(dir)) v.remove_prefix(dir.size());
    return std::string(v);
}

}  // namespace

std::shared_ptr<const TimeZone> TimeZone::utc() {
    static const std::shared_ptr<const TimeZone> kUtc(new TimeZone("UTC", nullptr));
    return kUtc;
}

std::shared_ptr<const TimeZone> TimeZone::locate(std::string_view name, std::string& error) {
    std::string wanted(name);
    const bool local = name == "Local";
    if (local) {
        wanted = tz_environment();
        if (wanted.empty()) {
            try {
                wanted = date::current_zone()->name();
            } catch (const std::exception& e) {
                error = std::string("the local time zone cannot be read (/etc/localtime): ") + e.what();
                return nullptr;
            }
        }
    }
    if (wanted == "UTC" || wanted == "Etc/UTC" || wanted == "UTC0" || wanted == "Zulu" || wanted == "Etc/Zulu")
        return utc();
    try {
        const date::time_zone* z = date::locate_zone(wanted);
        return std::shared_ptr<const TimeZone>(new TimeZone(std::string(z->name()), z));
    } catch (const std::exception&) {
        error = local ? "the TZ environment variable names no time zone of the system's database: " + wanted
                      : "not a time zone of the system's database (/usr/share/zoneinfo): " + wanted;
        return nullptr;
    }
}

int64_t TimeZone::to_utc(int64_t local_s, int32_t& fold_s) const {
    fold_s = 0;
    if (zone_ == nullptr) return local_s;
    const date::local_seconds lt{Seconds(local_s)};
    const date::local_info info = zone_->get_info(lt);
    switch (info.result) {
        case date::local_info::unique:
            return local_s - info.first.offset.count();
        case date::local_info::ambiguous:
            fold_s = static_cast<int32_t>(info.first.offset.count() - info.second.offset.count());
            return local_s - info.first.offset.count();
        case date::local_info::nonexistent:
        default:
            return local_s - info.first.offset.count();
    }
}

TimeZone::Span TimeZone::span_at(int64_t utc_s) const {
    if (zone_ == nullptr) return {INT64_MIN / 2, INT64_MAX / 2, 0};
    const date::sys_info info = zone_->get_info(date::sys_seconds{Seconds(utc_s)});
    return {std::chrono::duration_cast<Seconds>(info.begin.time_since_epoch()).count(),
            std::chrono::duration_cast<Seconds>(info.end.time_since_epoch()).count(),
            static_cast<int32_t>(info.offset.count())};
}

int64_t LocalTimeConverter::to_utc(int64_t local_s, int32_t& fold_s) {
    if (cached_) {
        const int64_t u = local_s - span_.offset_s;
        if (u >= span_.begin + kMargin && u < span_.end - kMargin) {
            fold_s = 0;
            return u;
        }
    }
    const int64_t u = zone_->to_utc(local_s, fold_s);
    span_ = zone_->span_at(u);
    cached_ = true;
    return u;
}

}  // namespace ailog
