// Regular-expression rewrites of label values.
#include "derive/label_hygiene.hpp"

#include <re2/re2.h>

#include <algorithm>

namespace ailog {

void replace_all(const re2::RE2& re, std::string_view in, std::string_view rewrite, std::string& out) {
    out.clear();
    constexpr int kMaxGroups = 10;
    re2::StringPiece match[kMaxGroups];
    const int groups = std::min(kMaxGroups, re.NumberOfCapturingGroups() + 1);
    const re2::StringPiece text(in.data(), in.size());
    size_t pos = 0;
    while (pos <= in.size() && re.Match(text, pos, in.size(), re2::RE2::UNANCHORED, match, groups)) {
        const size_t start = static_cast<size_t>(match[0].data() - in.data());
        const size_t end = start + match[0].size();
        out.append(in.substr(pos, start - pos));
        for (size_t i = 0; i < rewrite.size(); ++i) {
            const char c = rewrite[i];
            if (c != '\\' || i + 1 == rewrite.size()) {
                out.push_back(c);
                continue;
            }
            const char d = rewrite[++i];
            if (d >= '0' && d <= '9') {
                const int g = d - '0';
                if (g < groups && match[g].data() != nullptr) out.append(match[g].data(), match[g].size());
            } else {
                out.push_back(d);
            }
        }
        if (end > start) {
            pos = end;
        } else {
            // An empty match: keep the next byte and look again after it.
            if (start < in.size()) out.push_back(in[start]);
            pos = start + 1;
        }
    }
    if (pos < in.size()) out.append(in.substr(pos));
}

}  // namespace ailog
