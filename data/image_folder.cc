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
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "data/augment_kernels.h"
#include "data/file_util.h"
#include "tensor/atomic_file.h"
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

// Walks the PNG chunk list and checks every declared chunk length against the bytes that
// remain. Debian's stb_image grows its IDAT buffer to the *declared* length before checking that
// the data exists, so a 60-byte file declaring a 1.3 GB chunk makes it allocate 1.3 GB (found by
// data/fuzz/image_fuzzer). A valid PNG never declares more than it holds.
absl::Status ValidatePngChunks(absl::string_view bytes, absl::string_view name) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t pos = 8;  // after the signature
  while (true) {
    if (bytes.size() - pos < 12) {
      return absl::InvalidArgumentError(absl::StrCat(
          "PNG '", name, "' is truncated at byte offset ", pos, " (no IEND chunk)"));
    }
    const uint32_t length = (uint32_t{p[pos]} << 24) | (uint32_t{p[pos + 1]} << 16) |
                            (uint32_t{p[pos + 2]} << 8) | p[pos + 3];
    const std::string type(bytes.substr(pos + 4, 4));
    if (length > bytes.size() - pos - 12) {
      return absl::InvalidArgumentError(absl::StrCat(
          "PNG '", name, "': chunk '", absl::CEscape(type), "' at byte offset ", pos,
          " declares ", length, " bytes but only ", bytes.size() - pos - 12, " remain"));
    }
    pos += 12 + length;
    if (type == "IEND") return absl::OkStatus();
  }
}

// Walks the JPEG marker segments up to the first scan's entropy-coded data and beyond, and checks
// that every scan only references Huffman tables defined by an earlier DHT segment and that
// segment lengths fit in the file. Debian's stb_image decodes with an uninitialized Huffman
// table when a scan names an undefined one (a wild-pointer read, found by
// data/fuzz/image_fuzzer; fixed upstream in 2023).
absl::Status ValidateJpegSegments(absl::string_view bytes, absl::string_view name) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  bool huff_defined[2][4] = {};  // [class: 0 DC, 1 AC][table id]
  bool progressive = false;
  auto error = [&](size_t pos, absl::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat("JPEG '", name, "': ", what, " at byte offset ", pos));
  };
  size_t pos = 2;  // after SOI
  while (pos + 1 < n) {
    if (p[pos] != 0xff) return error(pos, "expected a marker");
    const unsigned char marker = p[pos + 1];
    if (marker == 0xff) {  // fill byte
      ++pos;
      continue;
    }
    if (marker == 0xd9) return absl::OkStatus();  // EOI
    if ((marker >= 0xd0 && marker <= 0xd7) || marker == 0x01 || marker == 0xd8) {
      pos += 2;  // standalone markers
      continue;
    }
    if (pos + 4 > n) return error(pos, "truncated marker segment");
    const size_t len = (size_t{p[pos + 2]} << 8) | p[pos + 3];
    if (len < 2 || pos + 2 + len > n) return error(pos, "marker segment longer than the file");
    const unsigned char* seg = p + pos + 4;
    const size_t seg_len = len - 2;
    if (marker == 0xc4) {  // DHT: one or more tables
      size_t k = 0;
      while (k < seg_len) {
        if (k + 17 > seg_len) return error(pos, "truncated Huffman table");
        const int tc = seg[k] >> 4, th = seg[k] & 15;
        if (tc > 1 || th > 3) return error(pos, "bad Huffman table class or id");
        size_t count = 0;
        for (int i = 1; i <= 16; ++i) count += seg[k + i];
        if (count > 256 || k + 17 + count > seg_len) return error(pos, "bad Huffman table size");
        huff_defined[tc][th] = true;
        k += 17 + count;
      }
    } else if (marker == 0xc2 || marker == 0xc6 || marker == 0xca || marker == 0xce) {
      progressive = true;
    } else if (marker == 0xda) {  // SOS
      if (seg_len < 1) return error(pos, "empty scan header");
      const size_t ns = seg[0];
      if (ns < 1 || ns > 4 || seg_len < 1 + 2 * ns + 3) return error(pos, "bad scan header");
      const int ss = seg[1 + 2 * ns], ah = seg[3 + 2 * ns] >> 4;
      const bool need_dc = ss == 0 && (!progressive || ah == 0);
      const bool need_ac = !progressive || ss > 0;
      for (size_t c = 0; c < ns; ++c) {
        const int td = seg[2 + 2 * c] >> 4, ta = seg[2 + 2 * c] & 15;
        if ((need_dc && (td > 3 || !huff_defined[0][td])) ||
            (need_ac && (ta > 3 || !huff_defined[1][ta]))) {
          return error(pos, "scan uses an undefined Huffman table");
        }
      }
      // Skip the entropy-coded data: up to the next marker that is not a stuffed 0xff00 or a
      // restart marker.
      pos += 2 + len;
      while (pos + 1 < n && !(p[pos] == 0xff && p[pos + 1] != 0x00 &&
                              !(p[pos + 1] >= 0xd0 && p[pos + 1] <= 0xd7))) {
        ++pos;
      }
      continue;
    }
    pos += 2 + len;
  }
  return absl::OkStatus();  // no EOI: stb_image handles truncated scan data itself
}

uint32_t ReadU32Le(const unsigned char* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}

// Checks that a BMP of width x height (height already positive) holds all its pixel rows.
// stb_image reads zeros past the end of the buffer, so a 60-byte file declaring 4 x 64516
// pixels "decodes" into a black image, silently, after filling the whole buffer (the slowest
// inputs of data/fuzz/image_fuzzer). stb_image supports only uncompressed and bit-field BMPs,
// where row r starts at offset + r * stride; the last row may omit its padding.
absl::Status ValidateBmpSize(absl::string_view bytes, absl::string_view name, int width,
                             int height) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < 30) {
    return absl::InvalidArgumentError(
        absl::StrCat("BMP '", name, "' is truncated: ", bytes.size(), " bytes, no full header"));
  }
  const uint64_t offset = ReadU32Le(p + 10);
  const uint32_t header_size = ReadU32Le(p + 14);
  const uint64_t bpp = header_size == 12 ? (p[24] | (p[25] << 8)) : (p[28] | (p[29] << 8));
  const uint64_t row_bits = static_cast<uint64_t>(width) * bpp;
  const uint64_t stride = (row_bits + 31) / 32 * 4;
  const uint64_t needed = offset + stride * static_cast<uint64_t>(height - 1) + (row_bits + 7) / 8;
  if (bytes.size() < needed) {
    return absl::InvalidArgumentError(absl::StrCat(
        "BMP '", name, "' is truncated: ", width, " x ", height, " pixels at ", bpp,
        " bits per pixel from byte offset ", offset, " need ", needed, " bytes, the file has ",
        bytes.size()));
  }
  return absl::OkStatus();
}

// Returns OK for the formats the image-folder reader accepts (PNG, JPEG, BMP, by signature).
// stb_image also decodes PSD, TGA, GIF, HDR, PIC and PNM; those decoders are not exposed, which
// shrinks the attack surface of the pre-2023 library.
absl::Status CheckSupportedFormat(absl::string_view bytes, absl::string_view name) {
  static constexpr char kPng[] = "\x89PNG\r\n\x1a\n";
  if (bytes.size() >= 8 && bytes.substr(0, 8) == absl::string_view(kPng, 8)) {
    return ValidatePngChunks(bytes, name);
  }
  if (bytes.size() >= 3 && static_cast<unsigned char>(bytes[0]) == 0xff &&
      static_cast<unsigned char>(bytes[1]) == 0xd8 && static_cast<unsigned char>(bytes[2]) == 0xff) {
    return ValidateJpegSegments(bytes, name);
  }
  if (bytes.size() >= 2 && bytes[0] == 'B' && bytes[1] == 'M') return absl::OkStatus();  // BMP
  return absl::InvalidArgumentError(absl::StrCat(
      "'", name, "' is not a PNG, JPEG or BMP image (unrecognized file signature)"));
}

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
  SIMDNET_RETURN_IF_ERROR(CheckSupportedFormat(bytes, name));
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int len = static_cast<int>(bytes.size());
  int w = 0, h = 0, comp = 0;
  if (!stbi_info_from_memory(data, len, &w, &h, &comp)) {
    const char* why = stbi_failure_reason();
    return absl::InvalidArgumentError(absl::StrCat("'", name, "' is not a decodable image: ",
                                                   why ? why : "unknown format"));
  }
  // A BMP with a negative height in its BITMAPINFOHEADER is stored top-down (legal; stb_image
  // decodes it the right way up), and stbi_info passes the signed height through.
  const bool is_bmp = bytes[0] == 'B';  // the signature is PNG, JPEG or "BM" by now
  if (is_bmp && h < 0) {
    if (h == INT_MIN) {  // no positive counterpart (stb_image would take abs() of it)
      return absl::InvalidArgumentError(
          absl::StrCat("BMP '", name, "' has an out-of-range height of ", h));
    }
    h = -h;
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
  if (is_bmp) SIMDNET_RETURN_IF_ERROR(ValidateBmpSize(bytes, name, w, h));
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
  SIMDNET_ASSIGN_OR_RETURN(std::string bytes,
                           ReadFile(path, static_cast<uint64_t>(options.max_file_bytes)));
  SIMDNET_ASSIGN_OR_RETURN(DecodedImage image,
                           DecodeImage(bytes, path, options.channels, options.max_pixels));
  if (!options.preprocess) return ResizeToPlanar(image, options.height, options.width);
  absl::StatusOr<std::vector<uint8_t>> planar = options.preprocess(image);
  if (!planar.ok()) {
    return absl::Status(planar.status().code(),
                        absl::StrCat(path, ": ", planar.status().message()));
  }
  if (static_cast<int64_t>(planar->size()) != options.channels * options.height * options.width) {
    return absl::InternalError(absl::StrCat(path, ": preprocessing gave ", planar->size(),
                                            " bytes, not ", options.channels, " x ",
                                            options.height, " x ", options.width));
  }
  return planar;
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
