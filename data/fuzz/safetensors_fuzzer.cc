// Fuzz target for the checkpoint parser (train/safetensors.h ParseSafetensors): every input must
// be rejected with InvalidArgument or, if accepted, serialize back to a fixed point.
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "data/fuzz/fuzz_seeds.h"
#include "tensor/tensor.h"
#include "train/safetensors.h"

namespace simdnet {
namespace fuzz {

std::vector<std::string> FuzzSeeds() {
  std::vector<std::string> seeds;
  {  // What a small checkpoint holds: F32 weights, I64 / I32 state, string metadata.
    SafetensorsContents c;
    Tensor w(Shape({3, 2, 2}));
    for (int64_t i = 0; i < w.size(); ++i) w[i] = 0.25f * static_cast<float>(i) - 1.0f;
    c.tensors.emplace("features.0.weight", std::move(w));
    c.tensors.emplace("features.0.bias", Tensor(Shape({3})));
    c.int_tensors.emplace("step", IntTensor{IntDType::kI64, {}, {42}});
    c.int_tensors.emplace("rng", IntTensor{IntDType::kI32, {2}, {1, -1}});
    c.metadata["model_spec"] = "conv(3,2)";
    seeds.push_back(*SerializeSafetensors(c));
  }
  {  // Zero-size and rank-0 tensors.
    SafetensorsContents c;
    c.tensors.emplace("empty", Tensor(Shape({0, 4})));
    c.tensors.emplace("scalar", Tensor(Shape()));
    seeds.push_back(*SerializeSafetensors(c));
  }
  seeds.push_back(*SerializeSafetensors(SafetensorsContents()));  // "{}" only
  return seeds;
}

}  // namespace fuzz
}  // namespace simdnet

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace simdnet;  // NOLINT: fuzz entry point
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<SafetensorsContents> parsed = ParseSafetensors(bytes, "fuzz.safetensors");
  if (!parsed.ok()) {
    if (!absl::IsInvalidArgument(parsed.status())) __builtin_trap();
    return 0;
  }
  // Accepted: writing it back must work, parse again, and reach a fixed point.
  absl::StatusOr<std::string> again = SerializeSafetensors(*parsed);
  if (!again.ok()) __builtin_trap();
  absl::StatusOr<SafetensorsContents> reparsed = ParseSafetensors(*again, "fuzz.safetensors");
  if (!reparsed.ok()) __builtin_trap();
  absl::StatusOr<std::string> third = SerializeSafetensors(*reparsed);
  if (!third.ok() || *third != *again) __builtin_trap();
  return 0;
}
