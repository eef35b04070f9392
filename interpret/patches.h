// Top-activating input patches of a layer's channels (Zeiler & Fergus, "Visualizing and
// Understanding Convolutional Networks", ECCV 2014, figure 2), the receptive-field arithmetic that
// locates them, and their projections back to pixel space by the deconvnet rule (Zeiler & Fergus
// 2014) and by guided backpropagation (Springenberg et al., "Striving for Simplicity: The All
// Convolutional Net", ICLR 2015 workshop).
#ifndef SIMDNET_INTERPRET_PATCHES_H_
#define SIMDNET_INTERPRET_PATCHES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "data/dataset.h"
#include "interpret/source.h"
#include "layers/model.h"
#include "tensor/tensor.h"

namespace simdnet {

// Where a unit of a layer's output looks in the input: output position (y, x) sees input rows
// [offset_h + y * stride_h, offset_h + y * stride_h + size_h) (likewise columns), before clipping
// to the image (offsets are negative where padding was added).
struct ReceptiveField {
  int64_t size_h = 1, size_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t offset_h = 0, offset_w = 0;
};

// Computes the receptive field of layer `name`'s output units by walking the layers up to it in
// forward order (Model::ForEachLayer order through Children()): a conv or pooling layer with
// kernel k, stride s, padding p and dilation d maps (size, stride, offset) to
// (size + d (k - 1) stride, stride * s, offset - p stride); shape-preserving layers (activations,
// batch norm, dropout) pass through. A residual block counts as its main branch (the larger of
// the two fields: the shortcut is at most a 1x1 strided projection with the same stride); a
// layer inside a block is reached through its branch. Global pooling and flatten make the field
// the whole input. Errors: NotFound naming --layer for an unknown name; InvalidArgument naming
// the layer if an unknown layer type changes the spatial shape.
absl::StatusOr<ReceptiveField> ReceptiveFieldOf(Model& model, absl::string_view name);

// An image box [y0, y1) x [x0, x1).
struct PatchBox {
  int64_t y0 = 0, x0 = 0, y1 = 0, x1 = 0;
  int64_t height() const { return y1 - y0; }
  int64_t width() const { return x1 - x0; }
};

// Returns the input box output unit (y, x) sees, clipped to an input_h x input_w image.
PatchBox PatchBoxAt(const ReceptiveField& rf, int64_t y, int64_t x, int64_t input_h,
                    int64_t input_w);
// Returns the unclipped box (may extend outside the image).
PatchBox FullPatchBox(const ReceptiveField& rf, int64_t y, int64_t x);

// One of a channel's top activations.
struct TopActivation {
  int64_t image = 0;       // index in the data set
  int32_t label = 0;
  float activation = 0.0f;  // max over positions of the channel for that image
  int64_t y = 0, x = 0;     // where (first maximum in row-major order)
};

struct TopActivationOptions {
  std::string layer;              // a layer with (C, H, W) output, e.g. "features.5"
  std::vector<int64_t> channels;  // channels of that layer, each in [0, C)
  int64_t k = 9;                  // top-K images per channel, >= 1
  int64_t num_images = 0;         // the first n images of the data; 0 = all
  int64_t batch = 256;            // images per forward pass
};

// Runs the model over the data in batches and returns, per requested channel, the K images with
// the largest max-over-positions activation of that channel, largest first (ties: lower image
// index first), each image at most once per channel (its best position only). Fewer than K when
// the data has fewer images. Errors name the flag: --layer (unknown, or output not (C, H, W)),
// --layer_channels (out of range), --k, --samples (num_images), batch.
absl::StatusOr<std::vector<std::vector<TopActivation>>> FindTopActivations(
    PixelModel& model, const SampleSource& data, const TopActivationOptions& options);

enum class ProjectionRule {
  kGradient,   // plain gradient (no ReLU rule), for comparison
  kDeconvnet,  // through every ReLU: dx = max(dy, 0) (Zeiler & Fergus 2014)
  kGuided,     // through every ReLU: dx = max(dx, 0) after the normal backward (Springenberg
               // et al. 2015)
};

// Projects single activations back to pixel space: for every sample n of `pixels` (N, C, H, W),
// the gradient of layer `layer`'s output at (channels[n], ys[n], xs[n]) (1 there, 0 elsewhere)
// is propagated to the pixels, with the ReLU rule installed as backward hooks on every layer of
// type "relu" for the duration of the call (removed afterwards, also on error). One batched
// forward and one backward. Returns (N, C, H, W). Requires: channels, ys, xs have N entries
// inside the layer's output. Errors from the model (unknown layer, wrong shapes).
absl::StatusOr<Tensor> ProjectActivations(PixelModel& model, absl::string_view layer,
                                          const Tensor& pixels,
                                          const std::vector<int64_t>& channels,
                                          const std::vector<int64_t>& ys,
                                          const std::vector<int64_t>& xs, ProjectionRule rule);

}  // namespace simdnet

#endif  // SIMDNET_INTERPRET_PATCHES_H_
