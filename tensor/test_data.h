// Locates test data files through Bazel's runfiles, so that tests find them both in this
// workspace and when run as @simdnet//... from a workspace that depends on simdnet.
#ifndef SIMDNET_TENSOR_TEST_DATA_H_
#define SIMDNET_TENSOR_TEST_DATA_H_

#include <string>

#include "absl/strings/string_view.h"

namespace simdnet {

// Returns the path of the data file `path` (relative to the simdnet repository root, e.g.
// "train/testdata/safetensors_corpus") of the running test: its runfiles location under the
// repository name "simdnet". Falls back to `path` itself (relative to the working directory)
// when runfiles are unavailable. Requires: the file is in the test's `data`.
std::string TestDataPath(absl::string_view path);

}  // namespace simdnet

#endif  // SIMDNET_TENSOR_TEST_DATA_H_
