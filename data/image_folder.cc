// stb_image decoding behind StatusOr (stbi_info first, pixel cap, every failure per file) and
// the image-folder listing, eager loader and lazy source.
#include "data/image_folder.h"

#include <algorithm>
#include <climits>
#include <filesystem>
#include <mutex>
#include <system_error>

#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "data/augment_kernels.h"
#include "data/file_util.h"
#include "tensor/status_macros.h"
#include "tensor/thread_pool.h"

namespace simdnet {
namespace {

namespace fs = std::filesystem;

bool HasImageExtension(const fs::path& path) {
  const std::string ext = absl::AsciiStrToLower(path.extension().string());
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

// Frees stb_image's buffer on scope exit.
struct StbiFree {
  void operator()(stbi_uc* p) const { stbi_image_free(p); }
};

}  // namespace

absl::StatusOr<DecodedImage> DecodeImage(absl::string_view bytes, absl::string_view name,
                                         int channels, int64_t max_pixels) {
  SIMDNET_CHECK(channels >= 1 && channels <= 4 && max_pixels >= 1);
  if (bytes.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("image '", name, "' is an empty file"));
  }
  if (bytes.size() > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError(
        absl::StrCat("image '", name, "' has ", bytes.size(), " bytes; stb_image takes < 2 GiB"));
  }
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int len = static_cast<int>(bytes.size());
  int w = 0, h = 0, comp = 0;
  if (!stbi_info_from_memory(data, len, &w, &h, &comp)) {
    const char* why = stbi_failure_reason();
    return absl::InvalidArgumentError(absl::StrCat("'", name, "' is not a decodable image: ",
                                                   why ? why : "unknown format"));
  }
  if (w <= 0 || h <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("image '", name, "' has invalid dimensions ", w, " x ", h));
  }
  if (static_cast<int64_t>(w) * h > max_pixels) {
    return absl::InvalidArgumentError(absl::StrCat("image '", name, "' is ", w, " x ", h, " = ",
                                                   static_cast<int64_t>(w) * h,
                                                   " pixels, more than the limit of ", max_pixels));
  }
  int dw = 0, dh = 0, dcomp = 0;
  std::unique_ptr<stbi_uc, StbiFree> pixels(
      stbi_load_from_memory(data, len, &dw, &dh, &dcomp, channels));
  if (pixels == nullptr) {
    const char* why = stbi_failure_reason();
    return absl::InvalidArgumentError(
        absl::StrCat("cannot decode image '", name, "': ", why ? why : "decoder error"));
  }
  if (dw != w || dh != h) {
    return absl::InvalidArgumentError(absl::StrCat("image '", name, "': header says ", w, " x ",
                                                   h, " but the decoder produced ", dw, " x ", dh));
  }
  DecodedImage out;
  out.height = h;
  out.width = w;
  out.channels = channels;
  out.pixels.assign(pixels.get(), pixels.get() + static_cast<size_t>(w) * h * channels);
  return out;
}

absl::StatusOr<std::vector<uint8_t>> ResizeToPlanar(const DecodedImage& image, int64_t height,
                                                    int64_t width) {
  SIMDNET_CHECK(image.height >= 1 && image.width >= 1 && height >= 1 && width >= 1);
  const int64_t c = image.channels;
  std::vector<uint8_t> interleaved;
  const uint8_t* src = image.pixels.data();
  if (image.height != height || image.width != width) {
    interleaved.resize(static_cast<size_t>(height * width * c));
    if (!stbir_resize_uint8(image.pixels.data(), static_cast<int>(image.width),
                            static_cast<int>(image.height), 0, interleaved.data(),
                            static_cast<int>(width), static_cast<int>(height), 0,
                            static_cast<int>(c))) {
      return absl::InternalError(absl::StrCat("stb_image_resize failed: ", image.width, " x ",
                                              image.height, " -> ", width, " x ", height));
    }
    src = interleaved.data();
  }
  std::vector<uint8_t> planar(static_cast<size_t>(height * width * c));
  const int64_t plane = height * width;
  for (int64_t p = 0; p < plane; ++p) {
    for (int64_t ch = 0; ch < c; ++ch) planar[ch * plane + p] = src[p * c + ch];
  }
  return planar;
}

absl::StatusOr<std::vector<uint8_t>> LoadImageFile(const std::string& path,
                                                   const ImageFolderOptions& options) {
  SIMDNET_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path, options.max_file_bytes));
  SIMDNET_ASSIGN_OR_RETURN(DecodedImage image,
                           DecodeImage(bytes, path, options.channels, options.max_pixels));
  return ResizeToPlanar(image, options.height, options.width);
}

absl::Status ValidateImageFolderOptions(const ImageFolderOptions& options) {
  if (options.channels != 1 && options.channels != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("ImageFolderOptions.channels is ", options.channels, "; expected 1 or 3"));
  }
  constexpr int64_t kMaxSide = 1 << 15;
  if (options.height < 1 || options.height > kMaxSide || options.width < 1 ||
      options.width > kMaxSide) {
    return absl::InvalidArgumentError(absl::StrCat("ImageFolderOptions height x width is ",
                                                   options.height, " x ", options.width,
                                                   "; each must be in [1, ", kMaxSide, "]"));
  }
  if (options.max_pixels < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("ImageFolderOptions.max_pixels is ", options.max_pixels, "; must be >= 1"));
  }
  if (options.max_file_bytes < 1) {
    return absl::InvalidArgumentError(absl::StrCat("ImageFolderOptions.max_file_bytes is ",
                                                   options.max_file_bytes, "; must be >= 1"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ImageFolderIndex> ListImageFolder(const std::string& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    return absl::NotFoundError(
        absl::StrCat("image folder '", root, "' does not exist or is not a directory"));
  }
  std::vector<fs::path> class_dirs;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_directory(ec)) class_dirs.push_back(it->path());
  }
  if (ec) {
    return absl::DataLossError(absl::StrCat("cannot list image folder '", root, "': ", ec.message()));
  }
  if (class_dirs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "image folder '", root, "' has no class sub-folders (expected root/CLASS_NAME/*.png)"));
  }
  std::sort(class_dirs.begin(), class_dirs.end());
  ImageFolderIndex index;
  for (size_t c = 0; c < class_dirs.size(); ++c) {
    std::vector<std::string> files;
    for (fs::directory_iterator it(class_dirs[c], ec), end; !ec && it != end; it.increment(ec)) {
      if (!it->is_directory(ec) && HasImageExtension(it->path())) {
        files.push_back(it->path().string());
      }
    }
    if (ec) {
      return absl::DataLossError(absl::StrCat("cannot list class folder '",
                                              class_dirs[c].string(), "': ", ec.message()));
    }
    if (files.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("class folder '", class_dirs[c].string(),
                       "' contains no image files (.png, .jpg, .jpeg, .bmp)"));
    }
    std::sort(files.begin(), files.end());
    for (std::string& f : files) {
      index.files.push_back(std::move(f));
      index.labels.push_back(static_cast<int32_t>(c));
    }
    index.classes.push_back(class_dirs[c].filename().string());
  }
  return index;
}

absl::StatusOr<InMemoryDataset> LoadImageFolder(const std::string& root,
                                                const ImageFolderOptions& options,
                                                ThreadPool* pool) {
  SIMDNET_RETURN_IF_ERROR(ValidateImageFolderOptions(options));
  SIMDNET_ASSIGN_OR_RETURN(ImageFolderIndex index, ListImageFolder(root));
  const size_t n = index.files.size();
  std::vector<absl::StatusOr<std::vector<uint8_t>>> decoded(n, absl::UnknownError("not run"));
  auto decode = [&](uint64_t i, size_t) { decoded[i] = LoadImageFile(index.files[i], options); };
  if (pool != nullptr) {
    pool->ParallelFor(n, decode);
  } else {
    for (size_t i = 0; i < n; ++i) decode(i, 0);
  }
  InMemoryDataset out;
  out.channels = options.channels;
  out.height = options.height;
  out.width = options.width;
  out.classes = index.classes;
  const int64_t bytes = out.SampleBytes();
  for (size_t i = 0; i < n; ++i) {
    if (!decoded[i].ok()) {
      if (!options.skip_bad_files) return decoded[i].status();
      out.skipped.push_back(std::string(decoded[i].status().message()));
      continue;
    }
    SIMDNET_CHECK(static_cast<int64_t>(decoded[i]->size()) == bytes);
    out.pixels.insert(out.pixels.end(), decoded[i]->begin(), decoded[i]->end());
    decoded[i] = std::vector<uint8_t>();  // release early
    out.labels.push_back(index.labels[i]);
    ++out.num;
  }
  if (out.num == 0) {
    return absl::InvalidArgumentError(absl::StrCat("image folder '", root, "': all ", n,
                                                   " image files failed to decode; first: ",
                                                   out.skipped.empty() ? "" : out.skipped[0]));
  }
  SIMDNET_RETURN_IF_ERROR(out.Validate(root));
  return out;
}

absl::StatusOr<std::unique_ptr<ImageFolderSource>> ImageFolderSource::Create(
    const std::string& root, const ImageFolderOptions& options) {
  SIMDNET_RETURN_IF_ERROR(ValidateImageFolderOptions(options));
  SIMDNET_ASSIGN_OR_RETURN(ImageFolderIndex index, ListImageFolder(root));
  return std::unique_ptr<ImageFolderSource>(new ImageFolderSource(std::move(index), options));
}

absl::Status ImageFolderSource::ReadSample(int64_t i, float* out) const {
  if (i < 0 || i >= size()) {
    return absl::OutOfRangeError(
        absl::StrCat("sample index ", i, " out of range [0, ", size(), ")"));
  }
  SIMDNET_ASSIGN_OR_RETURN(std::vector<uint8_t> planar, LoadImageFile(file(i), options_));
  U8ToFloat(planar.data(), out, planar.size(), 1.0f / 255.0f);
  return absl::OkStatus();
}

}  // namespace simdnet
