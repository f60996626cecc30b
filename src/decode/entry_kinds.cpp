// Entry kinds: which kind a decoded entry is, by its message and its
// conditions, and, for explain, why a line is none.
#include <re2/re2.h>

#include <algorithm>
#include <span>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "decode/json_decoder.hpp"

namespace ailog {

namespace {

// Whether one condition holds for a field's value.
bool condition_holds(const Condition& c, const FieldValue& v) {
    if (!v.present) return false;
    switch (c.op) {
        case Condition::Op::Exists:
            return true;
        case Condition::Op::Equals:
            return v.str == c.values[0];
        case Condition::Op::OneOf:
            return std::find(c.values.begin(), c.values.end(), v.str) != c.values.end();
        case Condition::Op::Prefix:
            return v.str.starts_with(c.values[0]);
        case Condition::Op::Matches:
            return re2::RE2::PartialMatch(re2::StringPiece(v.str.data(), v.str.size()), *c.regex);
    }
    return false;
}

// Whether every condition of `kind` holds for the fields read into `ev`.
bool conditions_hold(const EntryKind& kind, const Event& ev) {
    for (const Condition& c : kind.conditions)
        if (!condition_holds(c, ev.fields[static_cast<size_t>(c.field)])) return false;
    return true;
}

}  // namespace

namespace {

// Each test of a kind, in order: its message, then its conditions. Returns
// how many hold and describes the first that fails.
int tests_held(const Mapping& m, const EntryKind& kind, const Event& ev, std::span<const std::string_view> messages,
               std::string& first_failure) {
    int held = 0;
    auto fail = [&](std::string why) {
        if (first_failure.empty()) first_failure = std::move(why);
    };
    if (!kind.message.empty()) {
        std::string_view got;
        for (std::string_view msg : messages)
            if (msg.data() != nullptr && got.data() == nullptr) got = msg;
        bool ok = false;
        for (std::string_view msg : messages)
            ok |= msg.data() != nullptr && msg.starts_with(kind.message) &&
                  (msg.size() == kind.message.size() || msg[kind.message.size()] == ' ');
        if (ok)
            ++held;
        else if (got.data() == nullptr)
            fail("there is no message");
        else
            fail(fmt::format("message is {:?}, not {:?}", std::string(got), kind.message));
    }
    for (const Condition& c : kind.conditions) {
        EntryKind one;
        one.conditions = {c};
        if (conditions_hold(one, ev)) {
            ++held;
            continue;
        }
        const std::string& name = m.fields[static_cast<size_t>(c.field)].name;
        const FieldValue& v = ev.fields[static_cast<size_t>(c.field)];
        if (!v.present) {
            fail(fmt::format("{} is missing", name));
            continue;
        }
        const std::string value(v.str);
        switch (c.op) {
            case Condition::Op::Equals:
                fail(fmt::format("{} is {:?}, not {:?}", name, value, c.values[0]));
                break;
            case Condition::Op::OneOf:
                fail(fmt::format("{} is {:?}, not one of {}", name, value, fmt::join(c.values, ", ")));
                break;
            case Condition::Op::Prefix:
                fail(fmt::format("{} is {:?}, which does not start with {:?}", name, value, c.values[0]));
                break;
            case Condition::Op::Matches:
                fail(fmt::format("{} is {:?}, which does not match {}", name, value, c.values[0]));
                break;
            case Condition::Op::Exists:
                break;
        }
    }
    return held;
}

}  // namespace

std::string JsonDecoder::why_not_matched() const {
    int best = -1;
    std::string best_failure;
    for (const EntryKind& kind : mapping_.kinds) {
        std::string failure;
        const int held = tests_held(mapping_, kind, *ev_, message_alts_, failure);
        if (held > best) {
            best = held;
            best_failure = fmt::format("closest is {}, but {}", kind.name, failure);
        }
    }
    return best_failure;
}

bool JsonDecoder::MatchMemo::holds(const Condition& c, const FieldValue& v) {
    if (!v.present) return false;
    if (v.str.size() > kMaxValue) return condition_holds(c, v);
    const size_t h = std::hash<std::string_view>{}(v.str);
    Slot& slot = slots[h % kSlots];
    if (slot.used && slot.hash == h && slot.value == v.str) return slot.result;
    slot.used = true;
    slot.hash = h;
    slot.value.assign(v.str);
    slot.result = condition_holds(c, v);
    return slot.result;
}

bool JsonDecoder::conditions_hold(int kind) {
    const auto& conditions = mapping_.kinds[static_cast<size_t>(kind)].conditions;
    const auto& memos = memo_of_[static_cast<size_t>(kind)];
    for (size_t i = 0; i < conditions.size(); ++i) {
        const Condition& c = conditions[i];
        const FieldValue& v = ev_->fields[static_cast<size_t>(c.field)];
        if (!(memos[i] >= 0 ? memos_[static_cast<size_t>(memos[i])].holds(c, v) : condition_holds(c, v))) return false;
    }
    return true;
}

int JsonDecoder::match_kind() {
    const int nkinds = static_cast<int>(mapping_.kinds.size());
    for (int a = 0; a < kMaxMessageAlts; ++a) {
        const std::string_view msg = message_alts_[a];
        if (msg.data() == nullptr) continue;
        for (int k = 0; k < nkinds; ++k) {
            const EntryKind& kind = mapping_.kinds[static_cast<size_t>(k)];
            const std::string& want = kind.message;
            if (!want.empty() && msg.size() >= want.size() && msg.compare(0, want.size(), want) == 0 &&
                (msg.size() == want.size() || msg[want.size()] == ' ') && conditions_hold(k))
                return k;
        }
    }
    // Kinds told by their conditions alone.
    for (int k = 0; k < nkinds; ++k) {
        const EntryKind& kind = mapping_.kinds[static_cast<size_t>(k)];
        if (kind.message.empty() && conditions_hold(k)) return k;
    }
    return -1;
}

}  // namespace ailog
