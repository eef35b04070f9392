// Image decoding (stb_image behind StatusOr, with dimensions checked by stbi_info before any
// decode) and the image-folder data set: root/CLASS_NAME/*.{png,jpg,jpeg,bmp}, class names from
// the sorted sub-folder names, every image converted to C channels and resized to H x W.
#ifndef SIMDNET_DATA_IMAGE_FOLDER_H_
#define SIMDNET_DATA_IMAGE_FOLDER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "data/dataset.h"

namespace simdnet {

class ThreadPool;

// A decoded 8-bit image, interleaved (H, W, C) as stb_image returns it.
struct DecodedImage {
  int64_t height = 0;
  int64_t width = 0;
  int64_t channels = 0;
  std::vector<uint8_t> pixels;  // height * width * channels bytes
};

// Decodes an encoded PNG, JPEG or BMP image (recognized by its signature; stb_image's other
// decoders are not exposed; BMPs may be bottom-up or top-down, i.e. with a negative height)
// converted to `channels` (1 gray, 3 RGB; 2 and 4 add alpha), top row first. `name`
// is used in messages. PNG chunk lengths are validated against the file size and the dimensions
// are read with stbi_info before decoding. InvalidArgument naming `name` for an unrecognized
// signature, a PNG chunk longer than the file, a BMP shorter than its declared pixel rows, data
// stb_image cannot parse (with
// stbi_failure_reason), width * height above max_pixels, or any decoder failure.
// Requires: 1 <= channels <= 4, max_pixels >= 1.
absl::StatusOr<DecodedImage> DecodeImage(absl::string_view bytes, absl::string_view name,
                                         int channels, int64_t max_pixels);

// Resizes `image` to height x width (stb_image_resize, sRGB-unaware box/Mitchell filter) and
// returns it planar as (C, H, W) uint8. Returns the planar copy unchanged in size if the sizes
// already match. InternalError if stb_image_resize fails.
// Requires: image is non-empty, height >= 1, width >= 1.
absl::StatusOr<std::vector<uint8_t>> ResizeToPlanar(const DecodedImage& image, int64_t height,
                                                    int64_t width);

struct ImageFolderOptions {
  // Output channels (1 gray or 3 RGB) and size; every image is converted and resized to these.
  int channels = 3;
  int64_t height = 32;
  int64_t width = 32;
  // Images with more pixels than this are rejected before decoding (stb_image in Debian
  // predates the 2023 CVE fixes; a cap bounds memory and decoder exposure).
  int64_t max_pixels = int64_t{1} << 26;
  // Encoded files larger than this are rejected before reading them completely.
  int64_t max_file_bytes = int64_t{256} << 20;
  // false: the first corrupt or non-image file fails the load with an error naming it.
  // true: such files are skipped and listed in InMemoryDataset::skipped with the reason.
  bool skip_bad_files = false;
  // If set, turns each decoded image (`channels` channels) into planar (channels, height,
  // width) bytes instead of the plain resize of the whole image, e.g. torchvision's resize of
  // the short side and centre crop (data/imagenet_preprocess.h ImageNetFolderPreprocess).
  // Its errors are reported with the file's path in front.
  std::function<absl::StatusOr<std::vector<uint8_t>>(const DecodedImage& image)> preprocess;
};

// The files of an image folder and their labels, before decoding.
struct ImageFolderIndex {
  std::vector<std::string> files;  // sorted by class, then by file name
  std::vector<int32_t> labels;
  std::vector<std::string> classes;
};

// Lists root/CLASS/*.{png,jpg,jpeg,bmp} (extension case-insensitive; other files and nested
// folders are ignored). NotFound if root does not exist; InvalidArgument naming the folder if
// root has no class sub-folders or a class folder holds no image file.
absl::StatusOr<ImageFolderIndex> ListImageFolder(const std::string& root);

// Returns InvalidArgument naming the field if `options` are out of range.
absl::Status ValidateImageFolderOptions(const ImageFolderOptions& options);

// Decodes every image of the folder into memory as (N, C, H, W) uint8. Decoding runs on `pool`
// when given; the result does not depend on the thread count. Errors name the offending file
// (or, with skip_bad_files, the file is recorded in `skipped`); InvalidArgument if no image is
// left.
absl::StatusOr<InMemoryDataset> LoadImageFolder(const std::string& root,
                                                const ImageFolderOptions& options,
                                                ThreadPool* pool = nullptr);

// A lazy image-folder source: files are read and decoded in ReadSample (for data sets that do
// not fit in memory, and for the decode cost to overlap with training in the loader). A file
// that fails to decode makes ReadSample return an error naming it.
class ImageFolderSource : public SampleSource {
 public:
  // Lists `root` (see ListImageFolder); errors as ListImageFolder and
  // ValidateImageFolderOptions.
  static absl::StatusOr<std::unique_ptr<ImageFolderSource>> Create(
      const std::string& root, const ImageFolderOptions& options);

  int64_t size() const override { return static_cast<int64_t>(index_.files.size()); }
  Shape sample_shape() const override {
    return Shape({options_.channels, options_.height, options_.width});
  }
  int32_t label(int64_t i) const override { return index_.labels[static_cast<size_t>(i)]; }
  const std::vector<std::string>& class_names() const override { return index_.classes; }
  absl::Status ReadSample(int64_t i, float* out) const override;

  // Returns the path of sample i. Requires: 0 <= i < size().
  const std::string& file(int64_t i) const { return index_.files[static_cast<size_t>(i)]; }

 private:
  ImageFolderSource(ImageFolderIndex index, const ImageFolderOptions& options)
      : index_(std::move(index)), options_(options) {}

  ImageFolderIndex index_;
  ImageFolderOptions options_;
};

// Reads, decodes and resizes one image file to planar (C, H, W) uint8 per `options`.
// Errors name `path`.
absl::StatusOr<std::vector<uint8_t>> LoadImageFile(const std::string& path,
                                                   const ImageFolderOptions& options);

}  // namespace simdnet

#endif  // SIMDNET_DATA_IMAGE_FOLDER_H_
