// Composable, seeded data augmentation on (C, H, W) float images in [0, 1]: horizontal flip,
// random crop with padding, random resized crop, rotation with bilinear sampling, colour jitter
// and Cutout. Every random draw comes from the Rng passed in; the batcher derives that Rng from
// (seed, epoch, sample index), so results never depend on thread count.
#ifndef SIMDNET_DATA_AUGMENT_H_
#define SIMDNET_DATA_AUGMENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tensor/rng.h"
#include "tensor/shape.h"

namespace simdnet {

// Geometry of one image: planar (C, H, W) floats.
struct ImageDims {
  int64_t channels = 0;
  int64_t height = 0;
  int64_t width = 0;
  int64_t plane() const { return height * width; }
  int64_t size() const { return channels * height * width; }
};

// One augmentation step. Implementations are immutable after construction and may be shared by
// several threads.
class Augmentation {
 public:
  virtual ~Augmentation() = default;
  // Transforms `image` (dims) in place, drawing randomness only from `rng`. `scratch` holds at
  // least dims.size() floats the step may overwrite. The output has the same dims.
  virtual void Apply(const ImageDims& dims, Rng& rng, float* image, float* scratch) const = 0;
  // Returns the spec token that recreates this step (see ParseAugmentSpec).
  virtual std::string Spec() const = 0;
};

// Mirrors the image left-right with probability p. Requires: 0 <= p <= 1.
std::unique_ptr<Augmentation> MakeHorizontalFlip(float p);

// Zero-pads each side by `padding` pixels and crops an H x W window at a uniformly random
// offset (the CIFAR "random crop 32, padding 4" recipe). Requires: padding >= 0.
std::unique_ptr<Augmentation> MakeRandomCrop(int64_t padding);

// Inception-style random resized crop (Szegedy et al. 2015; torchvision RandomResizedCrop):
// picks a window with area fraction in [scale_min, scale_max] and aspect ratio (log-uniform) in
// [ratio_min, ratio_max] (10 tries, then a central crop), and resamples it bilinearly to H x W.
// Requires: 0 < scale_min <= scale_max <= 1, 0 < ratio_min <= ratio_max.
std::unique_ptr<Augmentation> MakeRandomResizedCrop(float scale_min, float scale_max,
                                                    float ratio_min, float ratio_max);

// Rotates about the image centre by an angle uniform in [-max_degrees, max_degrees], sampling
// bilinearly; pixels from outside the source are 0. Requires: 0 <= max_degrees <= 180.
std::unique_ptr<Augmentation> MakeRotation(float max_degrees);

// Colour jitter (torchvision ColorJitter semantics for the factor ranges): brightness factor in
// [1 - b, 1 + b], contrast in [1 - c, 1 + c] (blend with the mean grey), saturation in
// [1 - s, 1 + s] (blend with the per-pixel grey) and hue shift in [-h, h] turns (a rotation of
// the chroma plane in YIQ space, a linear approximation of an HSV hue shift). All four are
// composed into one 3x4 colour matrix applied with the SIMD kernel, and the result is clamped to
// [0, 1] once at the end (torchvision clamps after each step). For 1-channel images only
// brightness and contrast apply. Requires: b, c, s in [0, 1], h in [0, 0.5].
std::unique_ptr<Augmentation> MakeColorJitter(float brightness, float contrast, float saturation,
                                              float hue);

// Cutout (DeVries & Taylor 2017): with probability p, zeroes a size x size square centred at a
// uniformly random pixel (clipped at the borders). Requires: size >= 1, 0 <= p <= 1.
std::unique_ptr<Augmentation> MakeCutout(int64_t size, float p);

// An ordered list of augmentation steps.
class Augmenter {
 public:
  Augmenter() = default;
  Augmenter(Augmenter&&) = default;
  Augmenter& operator=(Augmenter&&) = default;

  // Appends a step; returns *this for chaining.
  Augmenter& Add(std::unique_ptr<Augmentation> step);
  bool empty() const { return steps_.empty(); }
  size_t num_steps() const { return steps_.size(); }

  // Applies every step in order to `image` (dims), in place. `scratch` must hold at least
  // dims.size() floats. Deterministic in the state of `rng`.
  void Apply(const ImageDims& dims, Rng& rng, float* image, float* scratch) const;

  // Returns the comma-separated spec that ParseAugmentSpec turns back into this pipeline.
  std::string Spec() const;

 private:
  std::vector<std::unique_ptr<Augmentation>> steps_;
};

// Parses a comma-separated pipeline spec, for flags and tools, e.g.
//   "hflip=0.5,crop=4,rrc=0.08:1:0.75:1.333,rotate=15,jitter=0.4:0.4:0.4:0.1,cutout=8:1"
// Tokens: hflip[=p] (default 0.5), crop=padding, rrc[=smin:smax:rmin:rmax] (default
// 0.08:1:0.75:1.3333), rotate=degrees, jitter=b:c:s:h, cutout=size[:p] (p default 1).
// An empty spec gives an empty pipeline. InvalidArgument naming the token for unknown names,
// malformed numbers, wrong argument counts or out-of-range values.
absl::StatusOr<Augmenter> ParseAugmentSpec(absl::string_view spec);

// Returns the Rng for sample `index` in `epoch`: Rng(seed, epoch).Split(index). Every consumer
// (batcher, grid tool, tests) uses this so a sample's augmentation is reproducible anywhere.
Rng SampleRng(uint64_t seed, uint64_t epoch, uint64_t index);

}  // namespace simdnet

#endif  // SIMDNET_DATA_AUGMENT_H_
