// What interpretation looks at: a checkpoint's model in evaluation mode with its normalization
// and class names, seen from PIXEL space (images with values in [0, 1], normalized inside, input
// gradients returned per pixel), and the images to show it (a data set's held-out split, or
// image files converted like `simdnet predict` does).
#ifndef SIMDNET_INTERPRET_SOURCE_H_
#define SIMDNET_INTERPRET_SOURCE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "data/dataset.h"
#include "data/normalize.h"
#include "layers/model.h"
#include "tensor/tensor.h"
#include "train/commands.h"

namespace simdnet {

// A model that takes pixels: Forward normalizes (N, C, H, W) images with values in [0, 1] with
// the checkpoint's statistics before the network, and the input gradients are with respect to
// those pixels (chain rule through the normalization: per-channel d/dx = d/dinput / std).
// Runs the network in whatever mode it is in (LoadedModel puts it in eval mode) and computes
// input gradients only (Model::InputGradient): parameter gradients are never touched.
class PixelModel {
 public:
  // Wraps `model` (not owned; must outlive this). InvalidArgument naming both shapes if `norm`
  // does not apply to the model's input shape.
  static absl::StatusOr<PixelModel> Create(Model* model, const Normalization& norm);

  Model& model() { return *model_; }
  const Normalization& normalization() const { return norm_; }
  const Shape& InputShape() const { return model_->InputShape(); }
  int64_t num_classes() const { return model_->num_classes(); }

  // Computes logits (N, num_classes). InvalidArgument naming both shapes for a wrong shape.
  absl::Status Forward(const Tensor& pixels, Tensor* logits);
  // Forward that also keeps the outputs of the named layers (Model::ForwardWithOutputs).
  absl::Status ForwardWithOutputs(const Tensor& pixels, absl::Span<const std::string> layers,
                                  Tensor* logits, std::vector<Tensor>* outputs);
  // Writes d(sum(dlogits * logits)) / d pixels into *dpixels (N, C, H, W), from the last
  // Forward. Errors as Model::InputGradient.
  absl::Status InputGradient(const Tensor& dlogits, Tensor* dpixels);
  // Same, starting from the gradient at the output of layer `name`
  // (Model::InputGradientFrom).
  absl::Status InputGradientFrom(absl::string_view name, const Tensor& grad, Tensor* dpixels);

  // Normalizes pixels into *input (the network's input). Requires: pixels (N, ...InputShape()).
  void PixelsToInput(const Tensor& pixels, Tensor* input) const;
  // Converts a gradient with respect to the network input into one with respect to the pixels.
  void InputGradientToPixels(const Tensor& dinput, Tensor* dpixels) const;

 private:
  PixelModel(Model* model, const Normalization& norm) : model_(model), norm_(norm) {}

  Model* model_;
  Normalization norm_;
  Tensor input_, dinput_;
};

// A checkpoint loaded for interpretation.
struct LoadedModel {
  std::string path;
  std::unique_ptr<Model> model;  // in eval mode
  Normalization normalization;
  std::vector<std::string> class_names;  // num_classes entries ("0", "1", ... if unnamed)
  CheckpointInfo info;                   // the checkpoint's metadata (e.g. extra "preprocess")

  // Returns the pixel-space view of `model`.
  absl::StatusOr<PixelModel> Pixels() { return PixelModel::Create(model.get(), normalization); }
  // Returns class k's name, or "k" when out of range.
  std::string ClassName(int64_t k) const;
};

// Reads a checkpoint written by `simdnet train` / `finetune` and rebuilds its model in eval
// mode. Errors name the file.
absl::StatusOr<LoadedModel> LoadModelForInterpretation(const std::string& checkpoint);

// Loads the images interpretation looks at: the test split of `data` (the whole data set when
// it has none, as `simdnet eval`), NOT normalized (values in [0, 1]). InvalidArgument naming the
// checkpoint and both shapes if the samples do not match the model's input shape.
absl::StatusOr<InMemoryDataset> LoadHeldOutImages(const LoadedModel& model,
                                                  const DataOptions& data);

// Returns samples `indices` of `data` as a pixel batch (N, C, H, W) in [0, 1] and their labels.
// InvalidArgument naming the index and the data set size for an index out of range, or for an
// empty index list.
absl::StatusOr<Tensor> GatherPixels(const SampleSource& data, absl::Span<const int64_t> indices,
                                    std::vector<int32_t>* labels = nullptr);

// Reads image files converted to the model's input (channels, height, width) as `simdnet
// predict` does, as a pixel batch (N, C, H, W) in [0, 1]. Errors name the file;
// InvalidArgument if the model does not take 1- or 3-channel images.
absl::StatusOr<Tensor> ReadImageFilesAsPixels(const LoadedModel& model,
                                              const std::vector<std::string>& files);

// Images chosen for a picture, with display names ("#12" for a test image, or the file name)
// and true labels (-1 when unknown, for files).
struct ImageSelection {
  Tensor pixels;  // (N, C, H, W) in [0, 1]
  std::vector<std::string> names;
  std::vector<int32_t> labels;
};

// Selects image files (given as the command's arguments) or test images by index (--indices;
// default: the first default_count). The held-out split is read from `data` unless `held_out`
// is given. InvalidArgument if both files and indices are given, naming --indices or the file
// on a bad index or an unreadable file.
absl::StatusOr<ImageSelection> SelectImages(const LoadedModel& model, const DataOptions& data,
                                            const InMemoryDataset* held_out,
                                            std::vector<int64_t> indices,
                                            const std::vector<std::string>& files,
                                            int64_t default_count);

// Returns the predicted class of every sample of a logits batch (N, K) (first maximum).
std::vector<int64_t> ArgMaxRows(const Tensor& logits);

// Returns softmax(logits) row by row, (N, K).
Tensor SoftmaxRows(const Tensor& logits);

// Creates directory `dir` (and parents) if missing. Errors name the directory.
absl::Status EnsureDirectory(const std::string& dir);

}  // namespace simdnet

#endif  // SIMDNET_INTERPRET_SOURCE_H_
