// Test helpers shared by kernel and layer tests: the standard size sweep and a closeness check
// that reports the worst element (llm.c check_tensor style) instead of failing on the first.
#ifndef SIMDNET_TENSOR_TEST_UTIL_H_
#define SIMDNET_TENSOR_TEST_UTIL_H_

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace simdnet {
namespace test {

// The size sweep every SIMD kernel is tested on: empty, scalar, odd tails, a vector-width
// non-multiple, and one large size.
inline std::vector<size_t> KernelTestSizes() { return {0, 1, 3, 17, 255, 4099}; }

// Misalignments (in floats) applied to kernel inputs; prime offsets as in XNNPACK.
inline std::vector<size_t> KernelTestMisalignments() { return {0, 1, 3}; }

// Compares actual[i] against expected[i] with |a - e| <= abs_tol + rel_tol * |e|.
// On failure reports the count of mismatches, the worst index and the first few mismatches.
template <typename TA, typename TE>
::testing::AssertionResult AllNear(const TA* actual, const TE* expected, size_t n,
                                   double abs_tol, double rel_tol) {
  size_t bad = 0, worst = 0;
  double worst_excess = 0.0;
  std::string first;
  for (size_t i = 0; i < n; ++i) {
    const double a = static_cast<double>(actual[i]);
    const double e = static_cast<double>(expected[i]);
    const double tol = abs_tol + rel_tol * std::abs(e);
    const double err = std::abs(a - e);
    const bool ok = (err <= tol) || (std::isnan(a) && std::isnan(e)) ||
                    (std::isinf(a) && std::isinf(e) && (a > 0) == (e > 0));
    if (!ok) {
      if (bad < 5) absl::StrAppend(&first, "\n  [", i, "] actual ", a, " expected ", e);
      if (!(err - tol <= worst_excess)) {
        worst_excess = err - tol;
        worst = i;
      }
      ++bad;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << bad << " of " << n << " elements differ (abs_tol " << abs_tol << ", rel_tol "
         << rel_tol << "); worst at [" << worst << "]: actual "
         << static_cast<double>(actual[worst]) << " expected "
         << static_cast<double>(expected[worst]) << first;
}

template <typename TA, typename TE>
::testing::AssertionResult AllNear(const std::vector<TA>& actual, const std::vector<TE>& expected,
                                   double abs_tol, double rel_tol) {
  if (actual.size() != expected.size()) {
    return ::testing::AssertionFailure()
           << "size " << actual.size() << " vs expected " << expected.size();
  }
  return AllNear(actual.data(), expected.data(), actual.size(), abs_tol, rel_tol);
}

// Expects `s` to be InvalidArgument with a message naming every string in `needles` (the field,
// the shapes, the file ...): how boundary tests check that errors say what and where.
inline void ExpectInvalid(const absl::Status& s, const std::vector<std::string>& needles) {
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  for (const std::string& n : needles) {
    EXPECT_NE(std::string(s.message()).find(n), std::string::npos)
        << "message \"" << s.message() << "\" does not name \"" << n << "\"";
  }
}

}  // namespace test
}  // namespace simdnet

#endif  // SIMDNET_TENSOR_TEST_UTIL_H_
