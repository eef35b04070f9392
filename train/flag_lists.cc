// Parsing of comma-separated flag values.
#include "train/flag_lists.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace simdnet {

absl::StatusOr<std::vector<int64_t>> ParseIntList(absl::string_view text,
                                                  absl::string_view flag, int64_t min) {
  std::vector<int64_t> out;
  for (absl::string_view token : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    token = absl::StripAsciiWhitespace(token);
    int64_t v = 0;
    if (!absl::SimpleAtoi(token, &v) || v < min) {
      const std::string what = min == 0 ? "a non-negative integer"
                               : min == std::numeric_limits<int64_t>::min()
                                   ? "an integer"
                                   : absl::StrCat("an integer >= ", min);
      return absl::InvalidArgumentError(
          absl::StrCat(flag, "=", text, ": '", token, "' is not ", what));
    }
    out.push_back(v);
  }
  if (out.empty()) return absl::InvalidArgumentError(absl::StrCat(flag, ": empty list"));
  return out;
}

absl::StatusOr<std::vector<float>> ParseFloatList(absl::string_view text,
                                                  absl::string_view flag) {
  std::vector<float> out;
  for (absl::string_view token : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    token = absl::StripAsciiWhitespace(token);
    float v = 0.0f;
    if (!absl::SimpleAtof(token, &v)) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, "=", text, ": '", token, "' is not a number"));
    }
    out.push_back(v);
  }
  if (out.empty()) return absl::InvalidArgumentError(absl::StrCat(flag, ": empty list"));
  return out;
}

}  // namespace simdnet
