// Clock: where "now" comes from, so tests can control time.
#pragma once

#include <chrono>

namespace ailog {

class Clock {
public:
    virtual ~Clock() = default;
    // Milliseconds since the Unix epoch.
    virtual double now_ms() const = 0;
};

class SystemClock final : public Clock {
public:
    double now_ms() const override {
        using namespace std::chrono;
        return static_cast<double>(duration_cast<microseconds>(system_clock::now().time_since_epoch()).count()) /
               1000.0;
    }
};

}  // namespace ailog
