// Training checkpoints: a model's parameters and buffers, plus everything a resumed run needs
// (optimizer state, RNG states, trainer position, normalization, class names, the model spec),
// stored as one self-describing safetensors file. Parameter names are PyTorch-style
// ("features.0.weight"), so `safetensors.torch.load_file` reads the weights directly.
//
// File layout: tensors "<param or buffer name>" (F32) for the model; "optimizer/<name>/<slot>"
// for optimizer slots; metadata keys:
//   format = "simdnet-checkpoint", format_version = "1", model_spec, input_shape ("C,H,W"),
//   num_classes, class_names (JSON array), normalization (JSON object), frozen (JSON array of
//   frozen parameter names), optimizer_spec, schedule_spec, optimizer_type,
//   optimizer_scalars (JSON object), rng (JSON object name -> state), trainer (JSON object,
//   owned by the trainer), plus free-form "extra.*" keys.
// Writes are atomic (train/atomic_file.h): a crash never leaves a half-written checkpoint.
#ifndef SIMDNET_TRAIN_CHECKPOINT_H_
#define SIMDNET_TRAIN_CHECKPOINT_H_

#include <cstdint>
#include <map>
#include <memory>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "data/normalize.h"
#include "layers/model.h"
#include "optim/optimizer.h"
#include "tensor/shape.h"
#include "train/safetensors.h"

namespace simdnet {

inline constexpr char kCheckpointFormat[] = "simdnet-checkpoint";
inline constexpr int kCheckpointVersion = 1;

// What a checkpoint says about the model and the run, besides the tensors.
struct CheckpointInfo {
  std::string model_spec;             // spec text (layers/model_spec.h) that rebuilds the model
  Shape input_shape;                  // per sample, e.g. (1, 28, 28)
  int64_t num_classes = 0;
  std::vector<std::string> class_names;  // may be empty
  Normalization normalization;        // kind kNone when the run used none
  std::string optimizer_spec;         // empty: no optimizer state saved
  std::string schedule_spec;
  std::string trainer_json = "{}";    // trainer position, owned by train/trainer.cc
  std::map<std::string, std::string> extra;  // stored as "extra.<key>"
};

// Writes `model` (and `optimizer`'s state, if non-null) with `info` to `path` atomically.
// Returns I/O errors naming the path.
absl::Status SaveCheckpoint(absl::string_view path, Model& model, const CheckpointInfo& info,
                            const Optimizer* optimizer);

// A parsed, validated checkpoint.
struct Checkpoint {
  std::string path;
  CheckpointInfo info;
  SafetensorsContents contents;
  std::vector<std::string> frozen;                  // frozen parameter names
  std::map<std::string, std::string> rng_states;    // layer RNG name -> Rng::SaveState text
  std::optional<OptimizerState> optimizer_state;    // present when optimizer_spec is set
};

// Reads and validates a checkpoint: the safetensors structure (train/safetensors.h) and the
// metadata above (format, version, shapes, JSON fields). InvalidArgument / NotFound naming the
// path and the offending key. A file whose metadata "format" is not kCheckpointFormat (or
// absent) goes to the foreign reader when one is installed (e.g. PyTorch state_dicts,
// train/torch_checkpoint.h).
absl::StatusOr<Checkpoint> ReadCheckpoint(absl::string_view path);

// Converts a parsed safetensors file that is not a simdnet checkpoint into one, or returns
// std::nullopt when it does not recognize the file (ReadCheckpoint then reports the format).
using ForeignCheckpointReader = std::function<std::optional<absl::StatusOr<Checkpoint>>(
    absl::string_view path, const SafetensorsContents& contents)>;
// Installs the process's foreign reader (replacing any earlier one). Call at start-up.
void SetForeignCheckpointReader(ForeignCheckpointReader reader);

// Rebuilds the model from the checkpoint's spec and loads its weights, buffers, RNG states and
// frozen flags (see LoadModelState).
absl::StatusOr<std::unique_ptr<Model>> ModelFromCheckpoint(const Checkpoint& ckpt);

// Copies the checkpoint's tensors into `model`: every parameter and buffer of the model must be
// present with the same shape, and every model tensor of the file must belong to the model.
// Also restores layer RNG states and frozen flags. InvalidArgument naming the tensor and both
// shapes otherwise; on error the model may be partially updated. Unless allow_non_finite (for
// inspecting a diverged run), FailedPrecondition naming the first tensor (and element) that
// holds a NaN or infinity, before anything is copied.
absl::Status LoadModelState(const Checkpoint& ckpt, Model& model, bool allow_non_finite = false);

// Returns FailedPrecondition naming the first tensor of `ckpt` (parameters, buffers and
// optimizer state) that holds a NaN or infinity, or OK.
absl::Status CheckFiniteTensors(const Checkpoint& ckpt);

// Like LoadModelState but for transfer learning: copies only the tensors whose name and shape
// match, ignoring the rest. Returns the names copied. Non-finite tensors: as LoadModelState.
absl::StatusOr<std::vector<std::string>> LoadMatchingWeights(const Checkpoint& ckpt,
                                                             Model& model);

// Formats a per-sample shape as "C,H,W" and parses it back (InvalidArgument naming the text).
std::string ShapeToText(const Shape& shape);
absl::StatusOr<Shape> ShapeFromText(absl::string_view text);

}  // namespace simdnet

#endif  // SIMDNET_TRAIN_CHECKPOINT_H_
