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
//   Frozen parameters receive no gradient.
#ifndef SIMDNET_LAYERS_LAYER_H_
#define SIMDNET_LAYERS_LAYER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "tensor/rng.h"
#include "tensor/shape.h"
#include "tensor/tensor.h"

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

class Layer {
 public:
  virtual ~Layer() = default;

  // Returns the layer's type tag as used in specs and checkpoints, e.g. "conv2d".
  virtual std::string TypeName() const = 0;
  // Returns a one-line description of the options for summaries, e.g. "Conv2d(1, 32, k=5, p=2)".
  virtual std::string Describe() const = 0;
  // Per-sample shapes (no batch dim).
  virtual const Shape& InputShape() const = 0;
  virtual const Shape& OutputShape() const = 0;

  // See the contract at the top of this file.
  virtual void Forward(const Tensor& x, Tensor* y) = 0;
  virtual void Backward(const Tensor& dy, Tensor* dx) = 0;

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

  // Sets every parameter gradient to zero.
  void ZeroGrad();
  // Returns the number of trainable scalars (frozen ones included).
  int64_t NumParams();

 protected:
  Mode mode_ = Mode::kTrain;
};

}  // namespace simdnet

#endif  // SIMDNET_LAYERS_LAYER_H_
