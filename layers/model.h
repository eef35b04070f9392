// Model: a network ready for training and inference: a root Sequential plus the input shape and
// class count, with PyTorch-style parameter names, freezing, head replacement for transfer
// learning and a torchinfo-like summary table.
#ifndef SIMDNET_LAYERS_MODEL_H_
#define SIMDNET_LAYERS_MODEL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "layers/layer.h"
#include "layers/sequential.h"
#include "tensor/rng.h"
#include "tensor/shape.h"
#include "tensor/tensor.h"
#include "tensor/tensor_pool.h"

namespace simdnet {

// A data loss for ForwardBackward: returns the loss of logits (N, num_classes) and OVERWRITES
// *dlogits with d loss / d logits (same shape). Labels are captured by the closure, e.g.
//   [&](const Tensor& z, Tensor* dz) { return SoftmaxCrossEntropy(z, labels, dz); }
using LossFunction = std::function<absl::StatusOr<float>(const Tensor& logits, Tensor* dlogits)>;

class Model {
 public:
  // Takes ownership of `root`. InvalidArgument naming both shapes unless root's output shape
  // is (num_classes) with num_classes >= 1.
  static absl::StatusOr<std::unique_ptr<Model>> Create(std::unique_ptr<Sequential> root,
                                                        int64_t num_classes);

  // Per-sample input shape, e.g. (1, 28, 28).
  const Shape& InputShape() const { return root_->InputShape(); }
  int64_t num_classes() const { return num_classes_; }
  // Returns the model spec (layers/model_spec.h) that rebuilds this model: "input CxHxW", then
  // the root's statements (Layer::ToSpec). ModelFromSpec(ToSpec(), nullopt, num_classes(), seed)
  // gives the same parameter names and shapes, and the same initial values a model built in the
  // same order from Rng(seed) has. Errors as Layer::ToSpec.
  absl::StatusOr<std::string> ToSpec() const;
  Sequential& root() { return *root_; }

  // Returns OK if x is (N, ...InputShape()) with N >= 1, else InvalidArgument naming both
  // shapes (x usually comes from user data).
  absl::Status CheckInput(const Tensor& x) const;
  // Computes logits (N, num_classes) for x (N, ...InputShape()) in the current mode.
  // InvalidArgument from CheckInput.
  absl::Status Forward(const Tensor& x, Tensor* logits);
  // Computes the same logits as Forward (up to float rounding in eval mode, where Sequential
  // folds each Conv2d + BatchNorm into one convolution), for inference only (like
  // torch.inference_mode): the
  // containers keep no activations for a backward pass and take their intermediate outputs from
  // a pool the model owns, so the pass holds a few activations at a time instead of every
  // layer's (a 224x224 ResNet-18 at batch 16: about a quarter of the memory). No Backward may
  // follow; InputGradient returns FailedPrecondition until the next Forward. InvalidArgument
  // from CheckInput.
  absl::Status Predict(const Tensor& x, Tensor* logits);
  // The pool Predict draws from (its size is Predict's activation memory).
  const TensorPool& inference_tensors() const { return inference_tensors_; }
  // Back-propagates dlogits (N, num_classes): parameter gradients accumulate, *dx (if non-null)
  // is overwritten with the gradient at the input. Without dx the pass stops at the lowest
  // layer that learns (Sequential::BackwardParamsOnly): a frozen backbone costs no backward
  // time. Requires: a preceding Forward with that N.
  void Backward(const Tensor& dlogits, Tensor* dx = nullptr);
  // Runs Forward, `loss`, then Backward, and returns the data loss. Gradients ACCUMULATE (call
  // ZeroGrad first for a fresh step). logits / dx receive the logits / input gradient if
  // non-null. Errors from CheckInput or from the loss (e.g. a label out of range) are returned
  // before any gradient is touched.
  absl::StatusOr<float> ForwardBackward(const Tensor& x, const LossFunction& loss,
                                        Tensor* logits = nullptr, Tensor* dx = nullptr);

  // Switches every layer to training or evaluation behaviour (Dropout, BatchNorm).
  void SetMode(Mode mode) { root_->SetMode(mode); }
  Mode mode() const { return root_->mode(); }

  // Parameters, buffers and RNGs with stable hierarchical names ("features.0.weight",
  // "features.1.running_mean", "classifier.1.rng"), in layer order.
  std::vector<NamedParameter> Params() { return root_->Params(); }
  std::vector<NamedBuffer> Buffers() { return root_->Buffers(); }
  std::vector<NamedRng> Rngs() { return root_->Rngs(); }
  // Sets every parameter gradient to zero.
  void ZeroGrad() { root_->ZeroGrad(); }

  // Returns the forward multiply-adds per sample of the whole network (the sum of every layer's
  // Layer::ForwardMultAdds; the total Summary prints).
  int64_t ForwardMultAdds();

  // Returns the number of parameter scalars, all / not frozen.
  int64_t ParameterCount();
  int64_t TrainableParameterCount();

  // Freezes (no gradient, no update) / unfreezes every parameter whose name equals `prefix` or
  // starts with `prefix` + "." (so "features" matches "features.0.weight" but not
  // "features2.weight"); "" matches all. Returns the number of parameters matched; NotFound
  // naming the prefix if none.
  absl::StatusOr<int64_t> Freeze(absl::string_view prefix);
  absl::StatusOr<int64_t> Unfreeze(absl::string_view prefix);
  // Returns the name of the head: the last layer that has parameters ("fc" in a ResNet,
  // "classifier.1" in MobileNetV2, "classifier.6" in VGG); "" if no layer has any.
  std::string HeadName();
  // Freezes by `spec`, a comma-separated list of name prefixes (as Freeze) in which the word
  // "backbone" stands for every parameter outside the head (HeadName). Returns the number of
  // parameters frozen. NotFound naming the prefix and listing the top-level layers if a prefix
  // matches nothing; InvalidArgument for an empty item.
  absl::StatusOr<int64_t> FreezeList(absl::string_view spec);

  // Replaces the final Linear layer (the last leaf of the network) with a freshly initialized
  // Linear of the same input size, options and init specs but `num_classes` outputs, drawn from
  // rng; other layers (and their frozen flags) are kept. For transfer learning.
  // InvalidArgument if num_classes < 1; FailedPrecondition naming the layer if the last leaf is
  // not a Linear.
  absl::Status ReplaceHead(int64_t num_classes, Rng& rng);

  // ---- Reaching inside the network (interpretation) ----
  // Layers are named by their dotted paths from the root, the names Summary() prints and
  // PyTorch's module paths: "features", "features.3", "stage2.0.shortcut.1".

  // Calls fn(path, layer, depth) for every layer below the root in forward order, a container
  // before its children (depth 0 for the root's children).
  void ForEachLayer(const std::function<void(const std::string& path, Layer& layer, int depth)>& fn);
  // Returns every layer's path in ForEachLayer order.
  std::vector<std::string> LayerNames();
  // Returns the layer at `name`. NotFound naming it and listing the valid names otherwise.
  absl::StatusOr<Layer*> FindLayer(absl::string_view name);

  // Like Forward, and also copies the output of each layer in `names` into (*outputs)[i]
  // ((N, ...layer.OutputShape()), e.g. (N, C, H, W) for a conv layer), resized as needed.
  // NotFound (listing the valid names) for an unknown name, before anything runs;
  // InvalidArgument from CheckInput.
  absl::Status ForwardWithOutputs(const Tensor& x, absl::Span<const std::string> names,
                                  Tensor* logits, std::vector<Tensor>* outputs);

  // Back-propagates dlogits (N, num_classes) to the input WITHOUT parameter gradients: every
  // Parameter::grad is left untouched and the work only they need is skipped. *dx is
  // overwritten with (N, ...InputShape()). Runs in the current mode; interpretation runs in
  // eval mode (ScopedEvalMode). FailedPrecondition before any Forward; InvalidArgument naming
  // both shapes if dlogits is not (N, num_classes) for the last Forward's N.
  absl::Status InputGradient(const Tensor& dlogits, Tensor* dx);
  // Like InputGradient, but starts from `grad`, the gradient at the OUTPUT of layer `name`
  // ((N, ...layer.OutputShape())): only the layers that feed that output run backward. Hooks
  // of the layers that run are called (the named layer's included). NotFound for an unknown
  // name; InvalidArgument naming both shapes for a wrong grad shape; FailedPrecondition before
  // any Forward.
  absl::Status InputGradientFrom(absl::string_view name, const Tensor& grad, Tensor* dx);

  // Returns a torchinfo-style table: one row per layer (containers included, names indented by
  // depth) with its description, per-sample output shape, parameter count and forward
  // multiply-adds per sample (convolutions and linear layers), then the input shape, the
  // total / trainable / frozen parameter counts, total mult-adds and buffer count.
  std::string Summary();

 private:
  Model(std::unique_ptr<Sequential> root, int64_t num_classes)
      : root_(std::move(root)), num_classes_(num_classes) {}
  absl::StatusOr<int64_t> SetFrozen(absl::string_view prefix, bool frozen);
  // The chain of (container, child index) from the root down to the layer `name`.
  struct PathStep {
    Layer* container;
    size_t index;
    Layer* child;
  };
  absl::StatusOr<std::vector<PathStep>> ResolvePath(absl::string_view name);
  absl::Status NotFoundLayer(absl::string_view name, absl::string_view why);

  std::unique_ptr<Sequential> root_;
  int64_t num_classes_;
  Tensor logits_, dlogits_;  // reused by ForwardBackward
  Tensor unused_dx_;         // Backward without dx: the root's (unread) input gradient
  Tensor grad_a_, grad_b_;         // InputGradientFrom's ping-pong buffers
  TensorPool inference_tensors_;   // Predict's intermediate outputs
  int64_t last_batch_ = 0;         // N of the last Forward (0: none yet)
};

// Switches a model to eval mode for the scope's lifetime and restores its previous mode after,
// so that interpretation never leaves a model being trained in the wrong mode.
class ScopedEvalMode {
 public:
  explicit ScopedEvalMode(Model& model) : model_(model), previous_(model.mode()) {
    model_.SetMode(Mode::kEval);
  }
  ~ScopedEvalMode() { model_.SetMode(previous_); }
  ScopedEvalMode(const ScopedEvalMode&) = delete;
  ScopedEvalMode& operator=(const ScopedEvalMode&) = delete;

 private:
  Model& model_;
  Mode previous_;
};

}  // namespace simdnet

#endif  // SIMDNET_LAYERS_MODEL_H_
