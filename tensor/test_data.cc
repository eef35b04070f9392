// TestDataPath through Bazel's C++ runfiles library.
#include "tensor/test_data.h"

#include <sys/stat.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "tools/cpp/runfiles/runfiles.h"

namespace simdnet {

std::string TestDataPath(absl::string_view path) {
  std::string error;
  static const bazel::tools::cpp::runfiles::Runfiles* runfiles =
      bazel::tools::cpp::runfiles::Runfiles::CreateForTest(&error);
  if (runfiles != nullptr) {
    const std::string located = runfiles->Rlocation(absl::StrCat("simdnet/", path));
    struct stat st;
    if (!located.empty() && ::stat(located.c_str(), &st) == 0) return located;
  }
  return std::string(path);
}

}  // namespace simdnet
