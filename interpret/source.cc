// Loading checkpoints and images for interpretation, and the pixel-space model view.
#include "interpret/source.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>
#include <system_error>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "data/image_folder.h"
#include "tensor/status_macros.h"
#include "train/checkpoint.h"

namespace simdnet {

absl::StatusOr<PixelModel> PixelModel::Create(Model* model, const Normalization& norm) {
  SIMDNET_CHECK(model != nullptr);
  if (norm.kind != Normalization::Kind::kNone) {
    SIMDNET_RETURN_IF_ERROR(CheckNormalizationShape(norm, model->InputShape()));
  }
  return PixelModel(model, norm);
}

void PixelModel::PixelsToInput(const Tensor& pixels, Tensor* input) const {
  input->EnsureShape(pixels.shape());
  std::copy(pixels.data(), pixels.data() + pixels.size(), input->data());
  if (pixels.rank() >= 1) norm_.Apply(input->data(), pixels.dim(0));
}

void PixelModel::InputGradientToPixels(const Tensor& dinput, Tensor* dpixels) const {
  dpixels->EnsureShape(dinput.shape());
  std::copy(dinput.data(), dinput.data() + dinput.size(), dpixels->data());
  if (norm_.kind != Normalization::Kind::kPerChannel) return;  // mean subtraction: identity
  const int64_t plane = norm_.height * norm_.width;
  const int64_t per = norm_.channels * plane;
  for (int64_t s = 0; s < dinput.dim(0); ++s) {
    for (int64_t c = 0; c < norm_.channels; ++c) {
      const float inv = 1.0f / norm_.stddev[static_cast<size_t>(c)];
      float* d = dpixels->data() + s * per + c * plane;
      for (int64_t k = 0; k < plane; ++k) d[k] *= inv;
    }
  }
}

absl::Status PixelModel::Forward(const Tensor& pixels, Tensor* logits) {
  SIMDNET_RETURN_IF_ERROR(model_->CheckInput(pixels));
  PixelsToInput(pixels, &input_);
  return model_->Forward(input_, logits);
}

absl::Status PixelModel::ForwardWithOutputs(const Tensor& pixels,
                                            absl::Span<const std::string> layers, Tensor* logits,
                                            std::vector<Tensor>* outputs) {
  SIMDNET_RETURN_IF_ERROR(model_->CheckInput(pixels));
  PixelsToInput(pixels, &input_);
  return model_->ForwardWithOutputs(input_, layers, logits, outputs);
}

absl::Status PixelModel::InputGradient(const Tensor& dlogits, Tensor* dpixels) {
  SIMDNET_RETURN_IF_ERROR(model_->InputGradient(dlogits, &dinput_));
  InputGradientToPixels(dinput_, dpixels);
  return absl::OkStatus();
}

absl::Status PixelModel::InputGradientFrom(absl::string_view name, const Tensor& grad,
                                           Tensor* dpixels) {
  SIMDNET_RETURN_IF_ERROR(model_->InputGradientFrom(name, grad, &dinput_));
  InputGradientToPixels(dinput_, dpixels);
  return absl::OkStatus();
}

std::string LoadedModel::ClassName(int64_t k) const {
  if (k >= 0 && static_cast<size_t>(k) < class_names.size()) {
    return class_names[static_cast<size_t>(k)];
  }
  return absl::StrCat(k);
}

absl::StatusOr<LoadedModel> LoadModelForInterpretation(const std::string& checkpoint) {
  if (checkpoint.empty()) return absl::InvalidArgumentError("--checkpoint: none given");
  SIMDNET_ASSIGN_OR_RETURN(Checkpoint ck, ReadCheckpoint(checkpoint));
  LoadedModel out;
  out.path = checkpoint;
  SIMDNET_ASSIGN_OR_RETURN(out.model, ModelFromCheckpoint(ck));
  out.model->SetMode(Mode::kEval);
  out.normalization = ck.info.normalization;
  if (out.normalization.kind != Normalization::Kind::kNone) {
    absl::Status s = CheckNormalizationShape(out.normalization, out.model->InputShape());
    if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat(checkpoint, ": ", s.message()));
  }
  out.class_names = ck.info.class_names;
  out.info = ck.info;
  const size_t k = static_cast<size_t>(out.model->num_classes());
  if (out.class_names.size() != k) {
    out.class_names.clear();
    for (size_t i = 0; i < k; ++i) out.class_names.push_back(absl::StrCat(i));
  }
  return out;
}

absl::StatusOr<InMemoryDataset> LoadHeldOutImages(const LoadedModel& model,
                                                  const DataOptions& data_options) {
  DataOptions d = data_options;
  d.normalize = "none";  // the checkpoint's statistics are applied by PixelModel
  MatchFolderToCheckpoint(model.info, &d);
  SIMDNET_ASSIGN_OR_RETURN(LoadedData data, LoadData(d));
  InMemoryDataset held_out = data.test ? std::move(*data.test) : std::move(data.train);
  if (held_out.sample_shape() != model.model->InputShape()) {
    return absl::InvalidArgumentError(absl::StrCat(
        model.path, ": the model expects ", model.model->InputShape().ToString(),
        " but the data has samples of shape ", held_out.sample_shape().ToString()));
  }
  return held_out;
}

absl::StatusOr<Tensor> GatherPixels(const SampleSource& data, absl::Span<const int64_t> indices,
                                    std::vector<int32_t>* labels) {
  if (indices.empty()) return absl::InvalidArgumentError("no images selected");
  const Shape s = data.sample_shape();
  std::vector<int64_t> dims = {static_cast<int64_t>(indices.size())};
  for (int i = 0; i < s.rank(); ++i) dims.push_back(s.dim(i));
  SIMDNET_ASSIGN_OR_RETURN(Tensor out, Tensor::Create(dims));
  if (labels != nullptr) labels->clear();
  const int64_t per = s.size();
  for (size_t i = 0; i < indices.size(); ++i) {
    const int64_t idx = indices[i];
    if (idx < 0 || idx >= data.size()) {
      return absl::InvalidArgumentError(absl::StrCat("image index ", idx,
                                                     " is out of range: the data set has ",
                                                     data.size(), " images"));
    }
    SIMDNET_RETURN_IF_ERROR(data.ReadSample(idx, out.data() + static_cast<int64_t>(i) * per));
    if (labels != nullptr) labels->push_back(data.label(idx));
  }
  return out;
}

absl::StatusOr<Tensor> ReadImageFilesAsPixels(const LoadedModel& model,
                                              const std::vector<std::string>& files) {
  if (files.empty()) return absl::InvalidArgumentError("no image files given");
  const Shape in = model.model->InputShape();
  if (in.rank() != 3 || (in.dim(0) != 1 && in.dim(0) != 3)) {
    return absl::InvalidArgumentError(absl::StrCat(
        model.path, ": needs an image model (1 or 3 channels), input is ", in.ToString()));
  }
  ImageFolderOptions fo;
  fo.channels = static_cast<int>(in.dim(0));
  fo.height = in.dim(1);
  fo.width = in.dim(2);
  Tensor out(Shape({static_cast<int64_t>(files.size()), in.dim(0), in.dim(1), in.dim(2)}));
  const int64_t per = in.size();
  for (size_t i = 0; i < files.size(); ++i) {
    SIMDNET_ASSIGN_OR_RETURN(std::vector<uint8_t> pixels, LoadImageFile(files[i], fo));
    float* dst = out.data() + static_cast<int64_t>(i) * per;
    for (int64_t k = 0; k < per; ++k) {
      dst[k] = static_cast<float>(pixels[static_cast<size_t>(k)]) / 255.0f;
    }
  }
  return out;
}

absl::StatusOr<ImageSelection> SelectImages(const LoadedModel& model, const DataOptions& data,
                                            const InMemoryDataset* held_out,
                                            std::vector<int64_t> indices,
                                            const std::vector<std::string>& files,
                                            int64_t default_count) {
  ImageSelection sel;
  if (!files.empty() && !indices.empty()) {
    return absl::InvalidArgumentError(
        "--indices and image files: give test-image indices or files, not both");
  }
  if (!files.empty()) {
    SIMDNET_ASSIGN_OR_RETURN(sel.pixels, ReadImageFilesAsPixels(model, files));
    for (const std::string& f : files) {
      sel.names.push_back(std::filesystem::path(f).filename().string());
      sel.labels.push_back(-1);
    }
    return sel;
  }
  if (indices.empty()) {
    for (int64_t i = 0; i < default_count; ++i) indices.push_back(i);
  }
  std::optional<InMemoryDataset> loaded;
  if (held_out == nullptr) {
    SIMDNET_ASSIGN_OR_RETURN(loaded, LoadHeldOutImages(model, data));
    held_out = &*loaded;
  }
  absl::StatusOr<Tensor> pixels = GatherPixels(*held_out, indices, &sel.labels);
  if (!pixels.ok()) {
    return absl::Status(pixels.status().code(),
                        absl::StrCat("--indices: ", pixels.status().message()));
  }
  sel.pixels = *std::move(pixels);
  for (const int64_t i : indices) sel.names.push_back(absl::StrCat("#", i));
  return sel;
}

std::vector<int64_t> ArgMaxRows(const Tensor& logits) {
  SIMDNET_CHECK(logits.rank() == 2);
  std::vector<int64_t> out;
  const int64_t k = logits.dim(1);
  for (int64_t i = 0; i < logits.dim(0); ++i) {
    const float* row = logits.data() + i * k;
    out.push_back(std::max_element(row, row + k) - row);
  }
  return out;
}

Tensor SoftmaxRows(const Tensor& logits) {
  SIMDNET_CHECK(logits.rank() == 2);
  Tensor p(logits.shape());
  const int64_t k = logits.dim(1);
  for (int64_t i = 0; i < logits.dim(0); ++i) {
    const float* z = logits.data() + i * k;
    float* q = p.data() + i * k;
    const float m = *std::max_element(z, z + k);
    double sum = 0.0;
    for (int64_t j = 0; j < k; ++j) sum += std::exp(static_cast<double>(z[j] - m));
    for (int64_t j = 0; j < k; ++j) {
      q[j] = static_cast<float>(std::exp(static_cast<double>(z[j] - m)) / sum);
    }
  }
  return p;
}

absl::Status EnsureDirectory(const std::string& dir) {
  if (dir.empty()) return absl::InvalidArgumentError("--out: empty output directory");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--out=", dir, ": cannot create the directory: ", ec.message()));
  }
  return absl::OkStatus();
}

}  // namespace simdnet
