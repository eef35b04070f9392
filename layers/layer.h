// Layer: the small abstract interface every simdnet layer implements, and Parameter, the named
// trainable tensor that optimizers and checkpoints key by name (never by address).
//
// Contract for every layer (stated once, as dlib does):
// - Shapes given at construction are per sample (no batch dim); Forward takes (N, ...input) and
//   produces (N, ...OutputShape()) for any N >= 1. Create() validates shapes; after that they
//   are trusted (mismatches are programmer errors and assert).
// - Forward(x, y): y is resized by the layer if its shape differs, then overwritten. The layer
//   may cache what Backward needs (each layer documents what); x must stay alive and unchanged
//   until Backward.
// - Backward(dy, dx): always produces dx (interpretation needs the gradient at the input), and
//   OVERWRITES it; parameter gradients are ACCUMULATED (+=) until ZeroGrad(), as in PyTorch.
//   Frozen parameters receive no gradient, and no parameter receives one while parameter
//   gradients are switched off (SetParamGradients(false): input gradients only, for
//   interpretation).
// - Containers (Sequential, Residual) expose their children by name (Children()), call each
//   child's hooks around its Forward/Backward (RunForward / RunBackward), and can
//   back-propagate from the input of one child down to their own input (BackwardBelowChild).
#ifndef SIMDNET_LAYERS_LAYER_H_
#define SIMDNET_LAYERS_LAYER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tensor/rng.h"
#include "tensor/shape.h"
#include "tensor/tensor.h"
#include "tensor/tensor_pool.h"

namespace simdnet {

enum class Mode { kTrain, kEval };

// A trainable tensor and its gradient (same shape).
struct Parameter {
  Tensor value;
  Tensor grad;
  // Whether weight decay / L1 / L2 regularization applies (false for biases and BN affine
  // parameters by default).
  bool weight_decay = true;
  // Frozen parameters get no gradient and are never updated (fine-tuning).
  bool frozen = false;
};

// A parameter with its stable name. Layers report local names ("weight", "bias"); models prefix
// them with the layer path ("features.0.weight"), the naming PyTorch uses.
struct NamedParameter {
  std::string name;
  Parameter* param;
};

// A non-trainable state tensor saved with the model (e.g. BatchNorm running_mean).
struct NamedBuffer {
  std::string name;
  Tensor* value;
};

// A random generator a layer owns (Dropout's masks), saved with checkpoints so that a resumed
// run draws the same masks.
struct NamedRng {
  std::string name;
  Rng* rng;
};

class Layer;

// Receives the wall time of every child's Forward / Backward that a container runs (simdnet's
// per-layer profile). Containers time their children only while a timer is installed.
class LayerTimer {
 public:
  virtual ~LayerTimer() = default;
  // `seconds` includes the layer's children (a container's time is inclusive); `batch` is the
  // number of samples of the call.
  virtual void Record(const Layer& layer, bool backward, int64_t batch, double seconds) = 0;
};

// Installs `timer` for the process (nullptr: none). Requires: no model is running.
void SetLayerTimer(LayerTimer* timer);
// Returns whether a LayerTimer is installed (containers then run every child on its own, never
// fused with a neighbour, so that each is timed).
bool LayerTimerInstalled();

// Inference-only forward passes (what torch.inference_mode is to PyTorch). While an
// InferenceScope is alive on a thread, the containers (Sequential, Residual) that run Forward on
// that thread take their intermediate outputs from the scope's TensorPool and let go of each one
// as soon as the next layer has consumed it, so a deep network's forward pass holds a few
// activations at a time instead of all of them. No Backward (or BackwardBelowChild) may follow
// such a Forward: nothing it needs was kept. Model::Predict opens one.
class InferenceScope {
 public:
  explicit InferenceScope(TensorPool* pool);
  ~InferenceScope();
  InferenceScope(const InferenceScope&) = delete;
  InferenceScope& operator=(const InferenceScope&) = delete;

 private:
  TensorPool* previous_;
};

// Returns the pool of the innermost InferenceScope alive on this thread, or nullptr.
TensorPool* InferencePool();

// Returns a process-wide counter that advances whenever parameter values or buffers may have
// changed. Caches derived from them (Sequential's Conv2d weights folded with the following
// BatchNorm) stay valid while it is unchanged.
uint64_t ParameterVersion();
// Advances ParameterVersion(). Called by what may write parameters or buffers: the optimizers'
// Step, BatchNorm's running-statistics update, and the accessors that hand out writable
// parameters or buffers (Params() / Buffers() of Sequential, Conv2d and BatchNorm, and their
// weight() / bias() / running_*()), so that loading a checkpoint or setting weights through
// them invalidates such caches. Code that writes through pointers it kept from before the last
// Model::Predict must call it after writing.
void NoteParametersChanged();

// Returns `t` when a Backward may follow, an empty tensor inside an InferenceScope: how a layer
// caches its input for Backward (x_ = KeptForBackward(x)) without pinning a pooled activation.
inline Tensor KeptForBackward(const Tensor& t) {
  return InferencePool() == nullptr ? t : Tensor();
}

// A child of a container with its local name ("0", "features", "shortcut").
struct NamedLayer {
  std::string name;
  Layer* layer;
};

class Layer {
 public:
  // Called with a layer's output after its Forward (e.g. to keep an inner activation).
  using ForwardHook = std::function<void(const Tensor& y)>;
  // Called with dy and the dx a layer's Backward just wrote; it may modify *dx (e.g. the
  // guided-backpropagation and deconvnet rules through ReLUs).
  using BackwardHook = std::function<void(const Tensor& dy, Tensor* dx)>;

  virtual ~Layer() = default;

  // Returns the layer's type tag as used in specs and checkpoints, e.g. "conv2d".
  virtual std::string TypeName() const = 0;
  // Returns a one-line description of the options for summaries, e.g. "Conv2d(1, 32, k=5, p=2)".
  virtual std::string Describe() const = 0;
  // Returns the model-spec text (layers/model_spec.h) that builds an equal layer: same options,
  // hence the same parameter names and shapes, and the same initial values from the same Rng
  // state. One statement for a leaf ("conv 32 k3 p1 nobias"); for a container its statements,
  // one per line, bodies indented. Uses the printer registered for TypeName()
  // (layers/layer_registry.h). Unimplemented naming the type if none is linked in;
  // FailedPrecondition if this layer has no spec form (e.g. a leaf given a name in C++).
  absl::StatusOr<std::string> ToSpec() const;
  // Per-sample shapes (no batch dim).
  virtual const Shape& InputShape() const = 0;
  virtual const Shape& OutputShape() const = 0;

  // See the contract at the top of this file.
  virtual void Forward(const Tensor& x, Tensor* y) = 0;
  virtual void Backward(const Tensor& dy, Tensor* dx) = 0;
  // Like Backward for the parameter gradients alone, when nobody reads the gradient at this
  // layer's input (a training step's lowest learning layer, e.g. the stem convolution): *dx
  // may be left as it is. Layers whose input gradient costs real work skip it; the default
  // runs Backward. Containers run the children that feed a learning layer.
  virtual void BackwardParamsOnly(const Tensor& dy, Tensor* dx) { Backward(dy, dx); }

  // Returns the multiply-adds one sample costs in this layer's forward pass (weight elements
  // times output positions, as torchinfo counts them); 0 for layers that do no products.
  // Containers return 0 (the model sums over the leaves).
  virtual int64_t ForwardMultAdds() const { return 0; }

  // Returns an estimate of the scratch memory (bytes) this layer's kernels use for a batch of
  // `batch` samples beyond its input, output and parameters (e.g. convolution lowering
  // buffers); 0 for layers that need none. For memory planning only.
  virtual int64_t ScratchBytes(int64_t batch) const { return 0; }

  // Trainable parameters with local names; composite layers prefix their children's names
  // ("0.weight", "shortcut.1.bias"). Pointers stay valid for the layer's lifetime.
  virtual std::vector<NamedParameter> Params() { return {}; }
  // Saved, non-trainable state (running statistics).
  virtual std::vector<NamedBuffer> Buffers() { return {}; }
  // Random generators owned by the layer (and its children), for checkpoints.
  virtual std::vector<NamedRng> Rngs() { return {}; }

  // Switches training / evaluation behaviour (Dropout, BatchNorm). Composites forward it.
  virtual void SetMode(Mode mode) { mode_ = mode; }
  Mode mode() const { return mode_; }

  // Returns the direct children of a container with their local names, in forward order (the
  // names that prefix their parameters); a leaf has none. Pointers stay valid until the
  // container changes (ReplaceLastLeaf).
  virtual std::vector<NamedLayer> Children() { return {}; }
  // Back-propagates `grad`, the gradient at the INPUT of child `index` (numbered as in
  // Children()), through the children that feed that input down to this container's input, and
  // OVERWRITES *dx with it. Child `index` itself is not run; hooks of the children that run are.
  // Requires: a container, index < Children().size(), a preceding Forward with the same N.
  virtual void BackwardBelowChild(size_t index, const Tensor& grad, Tensor* dx);

  // Switches the computation of parameter gradients on (the default) or off for this layer and
  // every descendant. Off, Backward produces only dx and leaves every Parameter::grad untouched,
  // and skips the work that only parameter gradients need.
  void SetParamGradients(bool on);
  bool param_gradients() const { return param_gradients_; }

  // Installs (or, with an empty function, removes) the hooks the enclosing container calls
  // after this layer's Forward / Backward. The root of a Model has no enclosing container.
  void set_forward_hook(ForwardHook hook) { forward_hook_ = std::move(hook); }
  void set_backward_hook(BackwardHook hook) { backward_hook_ = std::move(hook); }
  // Returns whether a forward or backward hook is installed (containers then run this layer on
  // its own, never fused with a neighbour).
  bool has_hooks() const { return forward_hook_ != nullptr || backward_hook_ != nullptr; }
  // How containers run a child: Forward / Backward, then the hook, timed when a LayerTimer is
  // installed.
  void RunForward(const Tensor& x, Tensor* y);
  void RunBackward(const Tensor& dy, Tensor* dx);
  // RunBackward with BackwardParamsOnly (the hook gets the *dx that was left as it is).
  void RunBackwardParamsOnly(const Tensor& dy, Tensor* dx);

  // Sets every parameter gradient to zero.
  void ZeroGrad();
  // Returns the number of trainable scalars (frozen ones included).
  int64_t NumParams();

 protected:
  // Returns whether Backward must accumulate p's gradient: p is not frozen and parameter
  // gradients are on.
  bool Learns(const Parameter& p) const { return param_gradients_ && !p.frozen; }

  Mode mode_ = Mode::kTrain;

 private:
  // RunBackward / RunBackwardParamsOnly: the pass, timed, then the hook.
  void TimedBackward(const Tensor& dy, Tensor* dx, bool params_only);

  bool param_gradients_ = true;
  ForwardHook forward_hook_;
  BackwardHook backward_hook_;
};

}  // namespace simdnet

#endif  // SIMDNET_LAYERS_LAYER_H_
