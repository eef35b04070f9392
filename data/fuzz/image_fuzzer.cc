// Fuzz target for image decoding as the image-folder reader does it: stbi_info first, the pixel
// cap, decoding to gray and RGB, and resizing to planar (C, H, W).
#include <string>
#include <vector>

#include <stb/stb_image_write.h>

#include "absl/strings/string_view.h"
#include "data/fuzz/fuzz_seeds.h"
#include "data/image_folder.h"

namespace simdnet {
namespace fuzz {
namespace {

void Append(void* ctx, void* data, int size) {
  static_cast<std::string*>(ctx)->append(static_cast<const char*>(data), static_cast<size_t>(size));
}

std::vector<uint8_t> Pattern(int w, int h, int c) {
  std::vector<uint8_t> px(static_cast<size_t>(w * h * c));
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(i * 29 % 256);
  return px;
}

}  // namespace

std::vector<std::string> FuzzSeeds() {
  std::vector<std::string> seeds(4);
  const std::vector<uint8_t> rgb = Pattern(6, 5, 3), gray = Pattern(4, 4, 1);
  stbi_write_png_to_func(Append, &seeds[0], 6, 5, 3, rgb.data(), 18);
  stbi_write_jpg_to_func(Append, &seeds[1], 6, 5, 3, rgb.data(), 80);
  stbi_write_bmp_to_func(Append, &seeds[2], 4, 4, 1, gray.data());
  stbi_write_png_to_func(Append, &seeds[3], 4, 4, 1, gray.data(), 4);
  return seeds;
}

}  // namespace fuzz
}  // namespace simdnet

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace simdnet;  // NOLINT: fuzz entry point
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  // A small cap keeps each execution fast; the code path is the same as the folder reader's.
  // Every decoder branch is reachable at 64 x 64, while 2^18 pixels let a 60-byte header spend
  // ~1 s under ASan decoding (and resizing) a large image from nothing: at 2^18 the fuzzer ran
  // ~50 inputs/s.
  constexpr int64_t kMaxPixels = int64_t{1} << 12;
  // One decode per input (half the cost of decoding to both): the size's parity picks gray or
  // RGB, and libFuzzer's insert/erase mutations flip it, so both conversions stay covered.
  const int channels = size % 2 == 1 ? 1 : 3;
  absl::StatusOr<DecodedImage> img = DecodeImage(bytes, "fuzz.img", channels, kMaxPixels);
  if (!img.ok()) return 0;
  if (img->width * img->height > kMaxPixels) __builtin_trap();
  if (static_cast<int64_t>(img->pixels.size()) != img->width * img->height * channels) {
    __builtin_trap();
  }
  absl::StatusOr<std::vector<uint8_t>> planar = ResizeToPlanar(*img, 7, 5);
  if (planar.ok() && planar->size() != static_cast<size_t>(7 * 5 * channels)) __builtin_trap();
  return 0;
}
