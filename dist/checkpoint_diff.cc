// checkpoint_diff A B --rtol=R [--optimizer_rtol=R2]: prints, per float tensor present in both
// checkpoints, the largest absolute difference and that difference relative to the largest
// |value| of A's tensor; exits 0 if every relative difference is within its tolerance (R for
// the model's tensors, R2, default R, for the optimizer state "optimizer/..."), 1 if one is not,
// 2 on bad input (unreadable file, a tensor missing from one side or shaped differently).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "train/checkpoint.h"

int main(int argc, char** argv) {
  double rtol = -1.0, optimizer_rtol = -1.0;
  bool ok = argc == 4 || argc == 5;
  for (int i = 3; ok && i < argc; ++i) {
    if (absl::StartsWith(argv[i], "--rtol=")) {
      ok = absl::SimpleAtod(argv[i] + 7, &rtol) && rtol >= 0.0;
    } else if (absl::StartsWith(argv[i], "--optimizer_rtol=")) {
      ok = absl::SimpleAtod(argv[i] + 17, &optimizer_rtol) && optimizer_rtol >= 0.0;
    } else {
      ok = false;
    }
  }
  if (!ok || rtol < 0.0) {
    std::fprintf(stderr, "usage: checkpoint_diff A.safetensors B.safetensors --rtol=R "
                 "[--optimizer_rtol=R2] (R, R2 >= 0)\n");
    return 2;
  }
  if (optimizer_rtol < 0.0) optimizer_rtol = rtol;
  auto a = simdnet::ReadCheckpoint(argv[1]);
  auto b = simdnet::ReadCheckpoint(argv[2]);
  for (const auto* c : {&a, &b}) {
    if (!c->ok()) {
      std::fprintf(stderr, "checkpoint_diff: %s\n", std::string(c->status().message()).c_str());
      return 2;
    }
  }
  const auto& ta = a->contents.tensors;
  const auto& tb = b->contents.tensors;
  double worst[2] = {0.0, 0.0};  // model tensors, optimizer state
  std::string worst_name[2];
  for (const auto& [name, x] : ta) {
    auto it = tb.find(name);
    if (it == tb.end() || it->second.shape() != x.shape()) {
      std::fprintf(stderr, "checkpoint_diff: tensor '%s' is missing from or shaped differently "
                   "in %s\n", name.c_str(), argv[2]);
      return 2;
    }
    double max_abs = 0.0, max_diff = 0.0;
    for (int64_t i = 0; i < x.size(); ++i) {
      const double u = x.data()[i], v = it->second.data()[i];
      max_abs = std::max(max_abs, std::fabs(u));
      max_diff = std::max(max_diff, std::fabs(u - v));
      if (std::isnan(u) != std::isnan(v)) max_diff = INFINITY;
    }
    const double rel = max_diff / std::max(max_abs, 1e-30);
    std::printf("%-40s max|a-b| %.3g  relative %.3g\n", name.c_str(), max_diff, rel);
    const int k = absl::StartsWith(name, "optimizer/") ? 1 : 0;
    if (rel > worst[k] || worst_name[k].empty()) {
      worst[k] = rel;
      worst_name[k] = name;
    }
  }
  std::printf("largest relative difference: weights %.3g (%s; tolerance %.3g), optimizer state "
              "%.3g (%s; tolerance %.3g)\n",
              worst[0], worst_name[0].c_str(), rtol, worst[1], worst_name[1].c_str(),
              optimizer_rtol);
  return worst[0] <= rtol && worst[1] <= optimizer_rtol ? 0 : 1;
}
