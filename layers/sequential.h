// Sequential: a layer made of child layers applied in order (torch.nn.Sequential), owning the
// intermediate activations and gradients between them.
#ifndef SIMDNET_LAYERS_SEQUENTIAL_H_
#define SIMDNET_LAYERS_SEQUENTIAL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "layers/batch_norm_kernels.h"  // BatchNormActivation
#include "layers/layer.h"
#include "tensor/shape.h"
#include "tensor/tensor.h"

namespace simdnet {

// y = f_{k-1}(... f_1(f_0(x))). With no children it is the identity.
// Children are named "0", "1", ... by default (or by the name given to Add); their parameters,
// buffers and RNGs are reported as "<child>.<name>", e.g. "0.weight", "features.3.bias".
// Caches: every intermediate activation (the children read their inputs in Backward) and the
// intermediate gradients; both are reused across calls while N is unchanged.
// Runs each child with Layer::RunForward / RunBackward (hooks, timing), except that a BatchNorm
// followed by a ReLU or ReLU6 (also as the last child) runs fused (BatchNorm::ForwardActivation /
// BackwardActivation, bit-identical to the two layers) when neither has hooks and no LayerTimer
// is installed; the BatchNorm's own output is then not kept (activation(i) of that BatchNorm is
// stale). A BatchNorm2d in train mode followed by a ReLU / ReLU6 and a 2x2 stride-2 max pooling
// (Pool2d::IsMaxPool2x2), none with hooks and no LayerTimer, runs as one layer
// (BatchNorm::ForwardActivationMaxPool2x2 / BackwardActivationMaxPool2x2, bit-identical to the
// three): the BatchNorm's and the activation's outputs are not written (activation(i) of both is
// stale; the pooling's indices() are its own), and Backward never writes their full-size
// gradients.
// Inside an InferenceScope (Model::Predict), with no hooks on them and no LayerTimer installed,
// a Conv2d followed by a BatchNorm2d in eval mode and/or a ReLU or ReLU6 runs as one
// convolution: the weights scaled by the BatchNorm's per-channel scale and the bias folded
// with its shift (cached until ParameterVersion() changes), the ReLU as the convolution's
// epilogue, the ReLU6 as a clamp of its output in place. The result equals the layers run on
// their own up to float rounding (the folded products round differently).
class BatchNorm;
class Conv2d;
class Pool2d;

class Sequential : public Layer {
 public:
  struct Child {
    std::string name;
    std::unique_ptr<Layer> layer;
  };

  // Returns an empty container for per-sample `input_shape` (rank 1..4, no zero dim);
  // InvalidArgument otherwise.
  static absl::StatusOr<std::unique_ptr<Sequential>> Create(const Shape& input_shape);

  // Appends `layer` named `name` (empty: its index). InvalidArgument if layer is null, its
  // InputShape() differs from the current OutputShape() (both shapes named), or the name is
  // taken or contains '.' or whitespace.
  absl::Status Add(std::unique_ptr<Layer> layer, absl::string_view name = "");
  // Like Add for a layer factory result: forwards the factory's error unchanged.
  template <typename L>
  absl::Status Add(absl::StatusOr<std::unique_ptr<L>> layer, absl::string_view name = "") {
    if (!layer.ok()) return layer.status();
    return Add(std::unique_ptr<Layer>(std::move(layer).value()), name);
  }

  std::string TypeName() const override { return "sequential"; }
  std::string Describe() const override;
  const Shape& InputShape() const override { return input_shape_; }
  // Returns the last child's output shape (the input shape when empty).
  const Shape& OutputShape() const override { return output_shape_; }

  // x is (N, ...InputShape()); y becomes (N, ...OutputShape()).
  void Forward(const Tensor& x, Tensor* y) override;
  // dy is (N, ...OutputShape()); dx is overwritten. Requires: a preceding Forward with that N.
  void Backward(const Tensor& dy, Tensor* dx) override;

  std::vector<NamedParameter> Params() override;
  std::vector<NamedBuffer> Buffers() override;
  std::vector<NamedRng> Rngs() override;
  // Sets this container's mode and every child's.
  void SetMode(Mode mode) override;
  std::vector<NamedLayer> Children() override;
  // Runs children index-1, ..., 0 backward from `grad` (the gradient at child index's input).
  void BackwardBelowChild(size_t index, const Tensor& grad, Tensor* dx) override;
  // Like Backward for the parameter gradients alone, as a training step needs them: the
  // children below the first one that learns (has a parameter that is not frozen, with
  // parameter gradients on) do not run, that child runs its own BackwardParamsOnly, and *dx is
  // left as it is. With a frozen backbone the backward pass ends at the head, as in PyTorch
  // (requires_grad = False). The parameter gradients equal Backward's bit for bit. Requires: a
  // preceding Forward (not in an InferenceScope) with that N.
  void BackwardParamsOnly(const Tensor& dy, Tensor* dx) override;

  size_t size() const { return children_.size(); }
  bool empty() const { return children_.empty(); }
  const Child& child(size_t i) const { return children_[i]; }
  Layer& layer(size_t i) { return *children_[i].layer; }
  // Returns the output of child i from the last Forward (child size()-1's is y, not kept).
  // Requires: i + 1 < size().
  const Tensor& activation(size_t i) const { return activations_[i]; }
  // Returns how many times the folded Conv2d + BatchNorm weights of this container (not of
  // its children) have been computed (see the class comment), for tests of the cache.
  int64_t folded_weight_computations() const { return folded_weight_computations_; }

  // Replaces the LAST leaf layer (descending into a trailing child Sequential) by
  // make(old_leaf); the new layer must take the same input shape and may change the output
  // shape, which then propagates to the enclosing containers. Used for transfer learning
  // (Model::ReplaceHead). FailedPrecondition if the container is empty; make's error is
  // forwarded.
  absl::Status ReplaceLastLeaf(
      const std::function<absl::StatusOr<std::unique_ptr<Layer>>(Layer& old)>& make);

 private:
  explicit Sequential(const Shape& in) : input_shape_(in), output_shape_(in) {}
  // Returns child i as a BatchNorm, and in *act the activation of child i + 1, if children i
  // and i + 1 may run fused (see the class comment), else null.
  BatchNorm* FusableBatchNorm(size_t i, BatchNormActivation* act);
  // Returns child i + 2 as a Pool2d if it may run fused with the BatchNorm `bn` (child i) and
  // the activation after it (see the class comment), else null.
  Pool2d* FusableMaxPool(size_t i, const BatchNorm& bn);
  // Returns the output of child i as Forward left it (the last child's: the caller's tensor,
  // kept in last_output_).
  Tensor& OutputOf(size_t i);
  // Writes the outputs of the BatchNorm child i and the activation child i + 1 that ran fused
  // (with or without the pooling after them): the BatchNorm's recomputed (bit-identical), then
  // the activation's Forward re-run (without hooks) so that its Backward has its cached input;
  // and marks them unfused, so that they can run backward on their own.
  void Unfuse(size_t i);
  // Returns the number of children starting at i that run as one folded convolution in an
  // inference pass (see the class comment): 2 or 3, with *conv, *bn (null: no BatchNorm) and
  // *act (the activation after them, or kNone) set; 1 if child i runs on its own.
  size_t FoldableConv(size_t i, Conv2d** conv, BatchNorm** bn, BatchNormActivation* act);
  // Runs the fold that starts at child i (FoldableConv's results) on x into *y.
  void ForwardFolded(size_t i, Conv2d& conv, const BatchNorm* bn, BatchNormActivation act,
                     const Tensor& x, Tensor* y);
  // Runs children index-1, ..., stop backward from `grad` (the gradient at child index's
  // input); child stop's input gradient goes to *dx when stop == 0, else to gradients_[stop - 1].
  // With params_only_at_stop child stop runs BackwardParamsOnly (its input gradient unread).
  void BackwardChildren(size_t index, const Tensor& grad, Tensor* dx, size_t stop,
                        bool params_only_at_stop = false);

  Shape input_shape_, output_shape_;
  std::vector<Child> children_;
  std::vector<Tensor> activations_;  // output of child i, for i < size() - 1
  // The last child's output (the caller's y, shared) when that child is an activation that ran
  // fused with the BatchNorm before it: its Backward reads the mask from it.
  Tensor last_output_;
  std::vector<Tensor> gradients_;    // gradient w.r.t. activations_[i]
  // fused_[i] != kNone: children i, i + 1 ran fused (with that activation) in the last Forward.
  std::vector<BatchNormActivation> fused_;
  // fused_pool_[i]: children i, i + 1, i + 2 (BatchNorm, activation fused_[i], max pooling) ran
  // as one in the last Forward.
  std::vector<char> fused_pool_;
  bool inference_forward_ = false;   // the last Forward ran in an InferenceScope (no Backward)
  // Conv2d child i's weights and bias folded with the BatchNorm after it, valid while
  // ParameterVersion() equals version (0: never computed).
  struct FoldedConv {
    uint64_t version = 0;
    Tensor weight, bias;
  };
  std::vector<FoldedConv> folded_;  // one per child
  int64_t folded_weight_computations_ = 0;
};

}  // namespace simdnet

#endif  // SIMDNET_LAYERS_SEQUENTIAL_H_
