// Comma-separated lists given as flag values ("0,5,17", "0,0.01,0.2"), parsed with errors that
// name the flag and the offending token.
#ifndef SIMDNET_TRAIN_FLAG_LISTS_H_
#define SIMDNET_TRAIN_FLAG_LISTS_H_

#include <cstdint>
#include <limits>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace simdnet {

// Parses integers >= min separated by commas (blanks around them are ignored). InvalidArgument
// naming `flag`, the text and the bad token, or "<flag>: empty list" when there is none.
absl::StatusOr<std::vector<int64_t>> ParseIntList(
    absl::string_view text, absl::string_view flag,
    int64_t min = std::numeric_limits<int64_t>::min());

// Parses numbers separated by commas; errors as ParseIntList.
absl::StatusOr<std::vector<float>> ParseFloatList(absl::string_view text, absl::string_view flag);

}  // namespace simdnet

#endif  // SIMDNET_TRAIN_FLAG_LISTS_H_
