// ImageNet evaluation preprocessing as torchvision's classifiers expect it:
// Resize(256) (the short side, PIL bilinear with its antialiasing), CenterCrop(224), ToTensor;
// the mean/std normalization is ImageNetNormalization(), applied by the model's checkpoint.
#ifndef SIMDNET_DATA_IMAGENET_PREPROCESS_H_
#define SIMDNET_DATA_IMAGENET_PREPROCESS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/image_folder.h"
#include "data/normalize.h"

namespace simdnet {

// Returns the per-channel normalization torchvision's ImageNet weights were trained with:
// mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225), for samples (3, crop, crop).
Normalization ImageNetNormalization(int64_t crop = 224);

// Resizes `image` (interleaved HWC bytes) so that its short side is `resize` and the long side
// int(resize * long / short) (torchvision's Resize(int)), with Pillow's bilinear resampling
// (triangle filter widened by the downscale factor, 22-bit fixed-point weights, horizontal pass
// then vertical, each rounded to bytes), then crops the centre crop x crop (offsets
// round((size - crop) / 2), half to even, as Python's round). Returns (C, crop, crop) planar
// bytes, bit-identical with torchvision's PIL pipeline.
// InvalidArgument if resize < crop, crop < 1, resize > 32768 or the image is empty.
absl::StatusOr<std::vector<uint8_t>> ResizeShortSideAndCenterCrop(const DecodedImage& image,
                                                                  int64_t resize, int64_t crop);

// Returns the ImageFolderOptions::preprocess that applies ResizeShortSideAndCenterCrop(image,
// crop * 256 / 224, crop) (torchvision's evaluation transform at any crop size), so that image
// folders are read as torchvision's classifiers expect. Requires: crop >= 1.
std::function<absl::StatusOr<std::vector<uint8_t>>(const DecodedImage&)> ImageNetFolderPreprocess(
    int64_t crop = 224);

// Reads, decodes (3 channels) and preprocesses an image file; values in [0, 1] as planar
// (3, crop, crop) floats. Errors name the file.
absl::StatusOr<std::vector<float>> LoadImageNetImage(const std::string& path,
                                                     int64_t resize = 256, int64_t crop = 224);

}  // namespace simdnet

#endif  // SIMDNET_DATA_IMAGENET_PREPROCESS_H_
