// Fuzz target for the IDX reader: gzip detection and capped decompression, header and size
// validation, and conversion of (images, labels) arrays into a dataset.
#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "data/file_util.h"
#include "data/fuzz/fuzz_seeds.h"
#include "data/idx.h"

namespace simdnet {
namespace fuzz {
namespace {

// Keeps every allocation small: hostile headers must be rejected, not satisfied.
constexpr int64_t kFuzzMaxBytes = int64_t{1} << 24;

std::string Idx(std::initializer_list<uint32_t> dims, size_t payload) {
  std::string out = {0, 0, 8, static_cast<char>(dims.size())};
  for (uint32_t d : dims) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>(d >> s));
  }
  for (size_t i = 0; i < payload; ++i) out.push_back(static_cast<char>(i % 10));
  return out;
}

}  // namespace

std::vector<std::string> FuzzSeeds() {
  return {Idx({3, 4, 4}, 48), Idx({5}, 5), Idx({2, 2, 2, 2}, 16), Idx({1, 28, 28}, 784)};
}

}  // namespace fuzz
}  // namespace simdnet

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace simdnet;  // NOLINT: fuzz entry point
  absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::string inflated;
  if (IsGzip(bytes)) {
    absl::StatusOr<std::string> out = GunzipBytes(bytes, "fuzz.gz", fuzz::kFuzzMaxBytes);
    if (!out.ok()) return 0;
    inflated = *std::move(out);
    bytes = inflated;
  }
  absl::StatusOr<IdxArray> arr = ParseIdx(bytes, "fuzz.idx", fuzz::kFuzzMaxBytes);
  if (!arr.ok()) return 0;
  // Use the array both as images and as labels (its first dimension as the label list), so the
  // dataset checks (rank, counts, label range) run on fuzzed shapes.
  IdxArray labels;
  labels.dims = {arr->dims[0]};
  labels.data.assign(arr->data.begin(),
                     arr->data.begin() + std::min<int64_t>(arr->dims[0],
                                                          static_cast<int64_t>(arr->data.size())));
  if (static_cast<int64_t>(labels.data.size()) != labels.dims[0]) return 0;
  absl::StatusOr<InMemoryDataset> d = IdxToDataset(*arr, labels, MnistClassNames(), "fuzz");
  if (d.ok() && d->num > 0) {
    std::vector<float> sample(static_cast<size_t>(d->SampleBytes()));
    (void)d->ReadSample(d->num - 1, sample.data());
  }
  return 0;
}
