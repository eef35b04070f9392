// Philox4x32-10 counter-based generator and its parallel, thread-count-independent fills.
#include "tensor/rng.h"

#include <cmath>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tensor/status_macros.h"
#include "tensor/thread_pool.h"

namespace simdnet {
namespace {

constexpr uint32_t kPhiloxM0 = 0xD2511F53u;
constexpr uint32_t kPhiloxM1 = 0xCD9E8D57u;
constexpr uint32_t kPhiloxW0 = 0x9E3779B9u;
constexpr uint32_t kPhiloxW1 = 0xBB67AE85u;

// SplitMix64 (Steele et al. 2014): turns a seed into well-mixed key words.
uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

inline float U32ToUniform(uint32_t x) {
  return static_cast<float>(x >> 8) * (1.0f / 16777216.0f);  // [0, 1), 24 bits
}

inline float BoxMuller(uint32_t a, uint32_t b) {
  // u1 in (0, 1] so log(u1) is finite; computed in double for accuracy and portability.
  const double u1 = (static_cast<double>(a >> 8) + 1.0) * (1.0 / 16777216.0);
  const double u2 = static_cast<double>(b >> 8) * (1.0 / 16777216.0);
  return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
}

// Splits [0, n) into chunks of this many elements; result does not depend on the chunking.
constexpr size_t kFillChunk = 1 << 14;

template <class Fn>
void ChunkedFill(size_t n, ThreadPool* pool, const Fn& fn) {
  const uint64_t chunks = (n + kFillChunk - 1) / kFillChunk;
  auto body = [&](uint64_t c, size_t) {
    const size_t begin = static_cast<size_t>(c) * kFillChunk;
    const size_t end = std::min(n, begin + kFillChunk);
    for (size_t i = begin; i < end; ++i) fn(i);
  };
  if (pool != nullptr && chunks > 1) {
    pool->ParallelFor(chunks, body);
  } else {
    for (uint64_t c = 0; c < chunks; ++c) body(c, 0);
  }
}

}  // namespace

Rng::Rng(uint64_t seed, uint64_t stream) {
  const uint64_t k = SplitMix64(seed);
  key_ = {static_cast<uint32_t>(k), static_cast<uint32_t>(k >> 32)};
  stream_ = SplitMix64(stream ^ 0x5851F42D4C957F2Dull);
  counter_ = 0;
}

Rng Rng::Split(uint64_t child) const {
  // The child's key mixes the parent's key, position and stream with the child id.
  const uint64_t parent = (static_cast<uint64_t>(key_[1]) << 32) | key_[0];
  const uint64_t k = SplitMix64(parent ^ SplitMix64(counter_ ^ SplitMix64(stream_ + child)));
  Rng r(std::array<uint32_t, 2>{static_cast<uint32_t>(k), static_cast<uint32_t>(k >> 32)}, 0,
        SplitMix64(child + 0x632BE59BD9B4E019ull));
  return r;
}

std::array<uint32_t, 4> Rng::Block(uint64_t c) const {
  uint32_t x0 = static_cast<uint32_t>(c), x1 = static_cast<uint32_t>(c >> 32);
  uint32_t x2 = static_cast<uint32_t>(stream_), x3 = static_cast<uint32_t>(stream_ >> 32);
  uint32_t k0 = key_[0], k1 = key_[1];
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = static_cast<uint64_t>(kPhiloxM0) * x0;
    const uint64_t p1 = static_cast<uint64_t>(kPhiloxM1) * x2;
    const uint32_t y0 = static_cast<uint32_t>(p1 >> 32) ^ x1 ^ k0;
    const uint32_t y1 = static_cast<uint32_t>(p1);
    const uint32_t y2 = static_cast<uint32_t>(p0 >> 32) ^ x3 ^ k1;
    const uint32_t y3 = static_cast<uint32_t>(p0);
    x0 = y0;
    x1 = y1;
    x2 = y2;
    x3 = y3;
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
  }
  return {x0, x1, x2, x3};
}

uint32_t Rng::NextU32() { return Block(counter_++)[0]; }

uint64_t Rng::NextU64() {
  const auto b = Block(counter_++);
  return (static_cast<uint64_t>(b[1]) << 32) | b[0];
}

float Rng::Uniform() { return U32ToUniform(NextU32()); }

uint64_t Rng::UniformInt(uint64_t n) {
  SIMDNET_CHECK(n >= 1);
  // Lemire 2019 with 64-bit draws and 128-bit products; rejection keeps it exactly uniform.
  for (;;) {
    const unsigned __int128 m = static_cast<unsigned __int128>(NextU64()) * n;
    const uint64_t low = static_cast<uint64_t>(m);
    if (low >= n || low >= (0 - n) % n) return static_cast<uint64_t>(m >> 64);
  }
}

float Rng::Normal() {
  const auto b = Block(counter_++);
  return BoxMuller(b[0], b[1]);
}

void Rng::FillUniform(float* out, size_t n, float lo, float hi, ThreadPool* pool) {
  const uint64_t base = counter_;
  const float scale = hi - lo;
  ChunkedFill(n, pool, [&](size_t i) { out[i] = lo + scale * U32ToUniform(Block(base + i)[0]); });
  counter_ += n;
}

void Rng::FillNormal(float* out, size_t n, float mean, float stddev, ThreadPool* pool) {
  const uint64_t base = counter_;
  ChunkedFill(n, pool, [&](size_t i) {
    const auto b = Block(base + i);
    out[i] = mean + stddev * BoxMuller(b[0], b[1]);
  });
  counter_ += n;
}

void Rng::FillBernoulli(float* out, size_t n, float p, ThreadPool* pool) {
  SIMDNET_CHECK(p >= 0.0f && p <= 1.0f);
  const uint64_t base = counter_;
  // Compare 32-bit integers against p * 2^32 so p = 1 always gives 1 and p = 0 always gives 0.
  const double threshold = static_cast<double>(p) * 4294967296.0;
  ChunkedFill(n, pool, [&](size_t i) {
    out[i] = static_cast<double>(Block(base + i)[0]) < threshold ? 1.0f : 0.0f;
  });
  counter_ += n;
}

std::string Rng::SaveState() const {
  return absl::StrCat("philox:", key_[0], ":", key_[1], ":", counter_, ":", stream_);
}

absl::StatusOr<Rng> Rng::LoadState(absl::string_view text) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  uint32_t k0, k1;
  uint64_t c, s;
  if (parts.size() != 5 || parts[0] != "philox" || !absl::SimpleAtoi(parts[1], &k0) ||
      !absl::SimpleAtoi(parts[2], &k1) || !absl::SimpleAtoi(parts[3], &c) ||
      !absl::SimpleAtoi(parts[4], &s)) {
    return absl::InvalidArgumentError(
        absl::StrCat("rng state: expected 'philox:<k0>:<k1>:<counter>:<stream>', got '",
                     text.substr(0, 80), "'"));
  }
  return Rng(std::array<uint32_t, 2>{k0, k1}, c, s);
}

}  // namespace simdnet
