// BatchNormSync: a two-slot (by round parity) all-reduce between threads that spin-wait.
//
// A rank publishes round r after writing values[r % 2] and reads the others' values[r % 2] once
// they have published r. It can overwrite values[r % 2] again only in round r + 2, after every
// rank has published r + 1, i.e. after every rank has finished reading round r.
#include "layers/batch_norm_sync.h"

#include <algorithm>
#include <thread>

#include "tensor/status_macros.h"
#include "tensor/thread_pool.h"  // CpuRelax

namespace simdnet {

BatchNormSync::BatchNormSync(size_t ranks, size_t max_count) : max_count_(max_count) {
  SIMDNET_CHECK(ranks >= 1);
  for (size_t r = 0; r < ranks; ++r) {
    auto slot = std::make_unique<Slot>();
    slot->values[0].resize(max_count);
    slot->values[1].resize(max_count);
    slots_.push_back(std::move(slot));
  }
}

void BatchNormSync::Begin(int64_t total_rows) {
  total_rows_ = total_rows;
  for (auto& slot : slots_) {
    slot->round.store(0, std::memory_order_relaxed);
    slot->local_round = 0;
  }
  aborted_.store(false, std::memory_order_release);
}

void BatchNormSync::Abort() { aborted_.store(true, std::memory_order_release); }

bool BatchNormSync::AllReduce(size_t rank, float* values, size_t count) {
  SIMDNET_CHECK(rank < slots_.size() && count <= max_count_);
  if (slots_.size() == 1) return !aborted_.load(std::memory_order_acquire);
  Slot& me = *slots_[rank];
  const uint64_t round = ++me.local_round;
  const size_t parity = round & 1;
  std::copy(values, values + count, me.values[parity].begin());
  me.round.store(round, std::memory_order_release);
  for (auto& slot : slots_) {
    // The partner is normally a few hundred nanoseconds away; past a few thousand pauses it
    // has been descheduled, and yielding lets it run if it shares this core.
    int spins = 0;
    while (slot->round.load(std::memory_order_acquire) < round) {
      if (aborted_.load(std::memory_order_acquire)) return false;
      if (++spins < 4096) {
        CpuRelax();
      } else {
        std::this_thread::yield();
      }
    }
  }
  for (size_t i = 0; i < count; ++i) {
    float sum = slots_[0]->values[parity][i];
    for (size_t r = 1; r < slots_.size(); ++r) sum += slots_[r]->values[parity][i];
    values[i] = sum;
  }
  return true;
}

}  // namespace simdnet
