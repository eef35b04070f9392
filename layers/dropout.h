// Dropout: inverted dropout (Srivastava et al., JMLR 2014; torch.nn.Dropout), with masks drawn
// from the layer's own seeded Rng so that runs are reproducible and resumable.
#ifndef SIMDNET_LAYERS_DROPOUT_H_
#define SIMDNET_LAYERS_DROPOUT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "layers/layer.h"
#include "tensor/rng.h"
#include "tensor/shape.h"
#include "tensor/tensor.h"

namespace simdnet {

struct DropoutOptions {
  // Probability of ZEROING a unit (PyTorch's p). Kept units are scaled by 1 / (1 - drop_rate)
  // in training so the expected activation is unchanged; eval mode is the identity.
  float drop_rate = 0.5f;
};

// Training: y = x * m with m[i] = Bernoulli(1 - drop_rate) / (1 - drop_rate), a fresh mask per
// Forward (or per sample, see SetSampleKeys); Backward gives dx = dy * m (the mask of the last
// Forward is cached).
// Eval (or drop_rate == 0): y = x, dx = dy. No parameters; one Rng, reported as "rng".
class Dropout : public Layer {
 public:
  // Returns the layer for any per-sample `input_shape` with at least one element. Its Rng is
  // split from `rng` (which advances by one draw, so sibling layers get different streams).
  // InvalidArgument if drop_rate is not in [0, 1).
  static absl::StatusOr<std::unique_ptr<Dropout>> Create(const DropoutOptions& options,
                                                          const Shape& input_shape, Rng& rng);

  std::string TypeName() const override { return "dropout"; }
  std::string Describe() const override;
  const Shape& InputShape() const override { return shape_; }
  const Shape& OutputShape() const override { return shape_; }
  const DropoutOptions& options() const { return options_; }

  // x is (N, ...InputShape()); y gets the same shape.
  void Forward(const Tensor& x, Tensor* y) override;
  // dy as y; dx overwritten. Requires: a preceding Forward with the same N and mode.
  void Backward(const Tensor& dy, Tensor* dx) override;

  std::vector<NamedRng> Rngs() override { return {{"rng", &rng_}}; }
  // Per-sample masks: row r of the next training Forwards uses its own stream,
  // Rng.Split(epoch).Split(ids[r]) of the layer's Rng, which is then not advanced. A sample's
  // mask depends only on (seed, epoch, sample id), not on the batch it lands in, so a global
  // batch split across data-parallel ranks gets the masks of the single-process run, and a run
  // resumed mid-epoch draws the same masks. The trainer sets this before every step. Empty
  // `ids` returns to one stream per batch (also used when a batch's size differs from ids').
  void SetSampleKeys(uint64_t epoch, absl::Span<const int64_t> ids);
  // Returns the scaled mask of the last training Forward (empty before any).
  const Tensor& mask() const { return mask_; }

 private:
  Dropout(const DropoutOptions& options, const Shape& shape, const Rng& rng)
      : options_(options), shape_(shape), rng_(rng) {}

  DropoutOptions options_;
  Shape shape_;
  Rng rng_;
  Tensor mask_;             // (N, ...): 0 or 1 / (1 - drop_rate)
  bool masked_ = false;     // whether the last Forward applied the mask
  uint64_t key_epoch_ = 0;  // SetSampleKeys
  std::vector<int64_t> sample_ids_;
};

}  // namespace simdnet

#endif  // SIMDNET_LAYERS_DROPOUT_H_
