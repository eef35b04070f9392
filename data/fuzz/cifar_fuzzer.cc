// Fuzz target for the CIFAR binary batch parser (all three label layouts).
#include <string>

#include "absl/strings/string_view.h"
#include "data/cifar.h"
#include "data/fuzz/fuzz_seeds.h"

namespace simdnet {
namespace fuzz {

std::vector<std::string> FuzzSeeds() {
  std::vector<std::string> seeds;
  for (int label_bytes : {1, 2}) {
    std::string rec;
    for (int r = 0; r < 2; ++r) {
      for (int l = 0; l < label_bytes; ++l) rec.push_back(static_cast<char>(r + 3 * l));
      for (int k = 0; k < 3072; ++k) rec.push_back(static_cast<char>((k * 13 + r) % 256));
    }
    seeds.push_back(rec);
  }
  return seeds;
}

}  // namespace fuzz
}  // namespace simdnet

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace simdnet;  // NOLINT: fuzz entry point
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  for (CifarKind kind :
       {CifarKind::kCifar10, CifarKind::kCifar100Fine, CifarKind::kCifar100Coarse}) {
    InMemoryDataset d;
    d.classes.resize(static_cast<size_t>(CifarNumClasses(kind)));
    const absl::Status s = ParseCifarBatch(bytes, "fuzz.bin", kind, &d);
    if (s.ok()) {
      // Appending a second batch must keep the dataset consistent.
      if (!ParseCifarBatch(bytes, "fuzz2.bin", kind, &d).ok()) __builtin_trap();
      if (!d.Validate("fuzz").ok()) __builtin_trap();
    } else if (d.num != 0) {
      __builtin_trap();  // a rejected batch must leave the dataset unchanged
    }
  }
  return 0;
}
