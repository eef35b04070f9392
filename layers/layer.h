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

#include <string>
#include <vector>

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

}  // namespace simdnet

#endif  // SIMDNET_LAYERS_LAYER_H_
