// Saliency maps of a classifier in pixel space: vanilla gradients (Simonyan, Vedaldi & Zisserman
// 2014, "Deep Inside Convolutional Networks"), SmoothGrad (Smilkov et al. 2017), guided
// backpropagation (Springenberg et al. 2015, "Striving for Simplicity") and Grad-CAM (Selvaraju
// et al. 2017). Every function works on a batch of N images at once and explains one class per
// image; the score explained is that class's LOGIT (pre-softmax), as in the papers.
#ifndef SIMDNET_INTERPRET_SALIENCY_H_
#define SIMDNET_INTERPRET_SALIENCY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "data/dataset.h"
#include "interpret/source.h"
#include "tensor/tensor.h"

namespace simdnet {

// Returns the class each image is explained for: `requested` empty -> the predicted class of
// `logits` (N, K) per image; one entry -> that class for every image; N entries -> one per
// image. InvalidArgument naming `flag` ("--class=12: must be in [0, 10)") for a class outside
// [0, K) or a count that is neither 0, 1 nor N.
absl::StatusOr<std::vector<int64_t>> ResolveClasses(absl::Span<const int64_t> requested,
                                                    const Tensor& logits, absl::string_view flag);

// Computes the gradient of the logit of classes[i] with respect to image i's pixels:
// *gradient (N, C, H, W); *logits (if non-null) receives the logits (N, K) of `pixels`.
// Requires: classes.size() == N, each in [0, K). InvalidArgument for a wrong image shape.
absl::Status ClassScoreGradient(PixelModel& model, const Tensor& pixels,
                                absl::Span<const int64_t> classes, Tensor* gradient,
                                Tensor* logits = nullptr);

// Returns the saliency map of a gradient (N, C, H, W): max over channels of |g|, (N, H, W)
// (Simonyan et al. 2014, section 3.1).
Tensor MaxAbsOverChannels(const Tensor& gradient);

// Computes vanilla gradient saliency: |d logit_c / d pixel| maxed over channels, (N, H, W).
// Requires: classes.size() == N, each in [0, K). InvalidArgument for a wrong image shape.
absl::StatusOr<Tensor> VanillaSaliency(PixelModel& model, const Tensor& pixels,
                                       absl::Span<const int64_t> classes);

struct SmoothGradOptions {
  int64_t samples = 25;  // noisy copies per image, >= 1
  float sigma = 0.15f;   // noise stddev as a fraction of the image's (max - min), >= 0
  uint64_t seed = 1;     // the noise of copy s of image i comes from Rng(seed).Split(i*samples+s)
  int64_t batch_size = 256;  // rows (image copies) per forward/backward, >= 1
};

// Computes SmoothGrad (Smilkov et al. 2017, eq. 3): the gradient of logit classes[i] averaged
// over `samples` copies of image i plus N(0, (sigma * (max_i - min_i))^2) noise, then shown like
// vanilla saliency (max over channels of |mean gradient|), (N, H, W). Deterministic for a seed
// and independent of batch_size; sigma = 0 gives exactly VanillaSaliency.
// InvalidArgument naming the field for samples < 1, sigma < 0 or batch_size < 1.
absl::StatusOr<Tensor> SmoothGrad(PixelModel& model, const Tensor& pixels,
                                  absl::Span<const int64_t> classes,
                                  const SmoothGradOptions& options = {});

// Computes guided backpropagation (Springenberg et al. 2015): the gradient of logit classes[i]
// where every ReLU (TypeName() "relu") also zeroes negative gradients on the way back
// (dx = max(dx, 0) after its normal backward), (N, C, H, W), signed. The backward hooks it
// installs on the ReLUs are removed before it returns, on errors too (any hooks the caller had on
// them are removed as well). On a network without ReLUs it equals the plain gradient.
absl::StatusOr<Tensor> GuidedBackprop(PixelModel& model, const Tensor& pixels,
                                      absl::Span<const int64_t> classes);

// Returns the default Grad-CAM layer: the last non-container, non-pooling layer whose output is
// (C, H, W) with H, W > 1 (for vgg-small "features.12", the last ReLU before the last pooling);
// failing that the last layer (pooling included) with such an output. NotFound if no layer has
// a spatial output.
absl::StatusOr<std::string> DefaultGradCamLayer(Model& model);

// Computes Grad-CAM (Selvaraju et al. 2017) at layer `layer` (a Model::FindLayer name whose
// output is (C, h, w)): weights w_c = spatial mean of d logit / d A_c, cam = ReLU(sum_c w_c A_c),
// upsampled bilinearly (half-pixel centers, as PyTorch's align_corners=False) to the input's
// (H, W) and divided by its maximum per image (all zeros if the maximum is 0): (N, H, W) in
// [0, 1]. NotFound naming `flag` and listing the layers for an unknown layer; InvalidArgument
// naming `flag` for a layer whose output is not (C, h, w).
absl::StatusOr<Tensor> GradCam(PixelModel& model, const Tensor& pixels,
                               absl::Span<const int64_t> classes, const std::string& layer,
                               absl::string_view flag = "--layer");

// Computes vanilla saliency (predicted class) for every sample of `data` in batches of
// `batch_size` images: (data.size(), H, W). For throughput measurements and data-set-wide maps.
// InvalidArgument if batch_size < 1 or the samples do not fit the model; read errors as
// SampleSource::ReadSample.
absl::StatusOr<Tensor> VanillaSaliencyForSource(PixelModel& model, const SampleSource& data,
                                                int64_t batch_size = 256);

}  // namespace simdnet

#endif  // SIMDNET_INTERPRET_SALIENCY_H_
