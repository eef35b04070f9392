// Hash-seeded weights (see hash_weights.h for the formula shared with the Python exporter).
#include "train/hash_weights.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/match.h"
#include "tensor/status_macros.h"
#include "tensor/thread_pool.h"

namespace simdnet {
namespace {

uint64_t Fnv1a64(absl::string_view text) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001B3ull;
  }
  return h;
}

uint64_t SplitMix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double UniformFromHash(uint64_t h, uint64_t index) {
  const uint64_t z = SplitMix64(h + (index + 1) * 0x9E3779B97F4A7C15ull);
  const double u = static_cast<double>(z >> 11) * 0x1.0p-53;
  return 2.0 * u - 1.0;
}

}  // namespace

double HashUniform(absl::string_view name, uint64_t index) {
  return UniformFromHash(Fnv1a64(name), index);
}

void FillHashSeeded(absl::string_view name, Tensor* t) {
  const uint64_t h = Fnv1a64(name);
  const int64_t n = t->size();
  // Each case computes in double with the same operations, in the same order, as the Python
  // formula, so the rounded floats are bit-identical.
  enum { kMean, kVar, kFanIn, kScale, kInput, kBias } kind;
  double fan_scale = 0.0;
  if (absl::EndsWith(name, "running_mean")) {
    kind = kMean;
  } else if (absl::EndsWith(name, "running_var")) {
    kind = kVar;
  } else if (t->rank() >= 2) {
    kind = kFanIn;
    fan_scale = std::sqrt(6.0 / static_cast<double>(n / t->dim(0)));
  } else if (absl::EndsWith(name, "weight")) {
    kind = kScale;
  } else if (name == "input") {
    kind = kInput;
  } else {
    kind = kBias;
  }
  float* out = t->data();
  auto fill = [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const double v = UniformFromHash(h, static_cast<uint64_t>(i));
      double x = 0.0;
      switch (kind) {
        case kMean: x = 0.1 * v; break;
        case kVar: x = 1.0 + 0.25 * (v + 1.0); break;
        case kFanIn: x = fan_scale * v; break;
        case kScale: x = 1.0 + 0.25 * v; break;
        case kInput: x = 2.0 * v; break;
        case kBias: x = 0.1 * v; break;
      }
      out[i] = static_cast<float>(x);
    }
  };
  constexpr int64_t kBlock = int64_t{1} << 20;
  ThreadPool& pool = DefaultThreadPool();
  if (n <= kBlock || pool.NumThreads() <= 1) {
    fill(0, n);
    return;
  }
  const uint64_t blocks = static_cast<uint64_t>((n + kBlock - 1) / kBlock);
  pool.ParallelFor(blocks, [&](uint64_t b, size_t) {
    const int64_t begin = static_cast<int64_t>(b) * kBlock;
    fill(begin, std::min(n, begin + kBlock));
  });
}

void FillHashSeededInput(Tensor* x) {
  SIMDNET_CHECK(x->rank() == 4 && x->dim(2) >= 2);
  const int64_t n = x->dim(0), c = x->dim(1), h = x->dim(2), w = x->dim(3);
  const uint64_t hv = Fnv1a64("input"), ho = Fnv1a64("input.offset");
  const uint64_t hs = Fnv1a64("input.slope");
  float* out = x->data();
  for (int64_t p = 0; p < n * c; ++p) {
    const double o = UniformFromHash(ho, static_cast<uint64_t>(p));
    const double s = UniformFromHash(hs, static_cast<uint64_t>(p));
    for (int64_t r = 0; r < h; ++r) {
      const double ramp = 2.0 * static_cast<double>(r) / static_cast<double>(h - 1) - 1.0;
      for (int64_t col = 0; col < w; ++col) {
        const int64_t i = (p * h + r) * w + col;
        const double v = UniformFromHash(hv, static_cast<uint64_t>(i));
        out[i] = static_cast<float>((v + o) + s * ramp);
      }
    }
  }
}

void FillModelHashSeeded(Model& model) {
  for (NamedParameter& p : model.Params()) FillHashSeeded(p.name, &p.param->value);
  for (NamedBuffer& b : model.Buffers()) FillHashSeeded(b.name, b.value);
}

}  // namespace simdnet
