// Rng: a seedable, splittable counter-based random generator (Philox4x32-10, Salmon et al.,
// "Parallel random numbers: as easy as 1, 2, 3", SC 2011; the generator PyTorch uses on CUDA).
// Element i of a fill depends only on (key, counter + i), so fills give the same numbers on every
// ISA and every thread count.
#ifndef SIMDNET_TENSOR_RNG_H_
#define SIMDNET_TENSOR_RNG_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace simdnet {

class ThreadPool;

class Rng {
 public:
  // Creates a generator for (seed, stream). Different streams of one seed are independent.
  explicit Rng(uint64_t seed, uint64_t stream = 0);

  // Returns an independent child generator; the same (parent state, child id) always gives the
  // same child. Does not advance this generator.
  Rng Split(uint64_t child) const;

  // Scalar draws; each advances the counter by one.
  uint32_t NextU32();
  uint64_t NextU64();
  // Uniform in [0, 1) with 24 bits of precision.
  float Uniform();
  // Uniform integer in [0, n). Requires: n >= 1. (Lemire's nearly-divisionless method.)
  uint64_t UniformInt(uint64_t n);
  // Standard normal N(0, 1) via Box-Muller.
  float Normal();

  // Fills out[0, n) and advances the counter by n. Runs on `pool` when given (result identical).
  // Uniform in [lo, hi).
  void FillUniform(float* out, size_t n, float lo, float hi, ThreadPool* pool = nullptr);
  // N(mean, stddev^2).
  void FillNormal(float* out, size_t n, float mean, float stddev, ThreadPool* pool = nullptr);
  // 1.0f with probability p, else 0.0f. Requires: 0 <= p <= 1.
  void FillBernoulli(float* out, size_t n, float p, ThreadPool* pool = nullptr);

  // Serializes the full state ("philox:<key0>:<key1>:<ctr_lo>:<ctr_hi>") for checkpoints.
  std::string SaveState() const;
  // Restores a state written by SaveState; InvalidArgument naming the text if malformed.
  static absl::StatusOr<Rng> LoadState(absl::string_view text);

  friend bool operator==(const Rng& a, const Rng& b) {
    return a.key_ == b.key_ && a.counter_ == b.counter_;
  }

 private:
  Rng(std::array<uint32_t, 2> key, uint64_t counter_lo, uint64_t counter_hi)
      : key_(key), counter_(counter_lo), stream_(counter_hi) {}

  // Returns the 4 random words for counter value c (with the generator's stream in the
  // upper counter words).
  std::array<uint32_t, 4> Block(uint64_t c) const;

  std::array<uint32_t, 2> key_;
  uint64_t counter_ = 0;  // position within the stream
  uint64_t stream_ = 0;   // upper 64 counter bits: distinguishes streams and splits
};

}  // namespace simdnet

#endif  // SIMDNET_TENSOR_RNG_H_
