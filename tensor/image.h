// The one 8-bit image type (gray or RGB), its PNG encoder (stb_image_write) and a 5x7 bitmap
// font for captions, used by the data tools, the training report and the interpretation commands.
#ifndef SIMDNET_TENSOR_IMAGE_H_
#define SIMDNET_TENSOR_IMAGE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace simdnet {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  friend bool operator==(Rgb a, Rgb b) { return a.r == b.r && a.g == b.g && a.b == b.b; }
  friend bool operator!=(Rgb a, Rgb b) { return !(a == b); }
};

// An 8-bit image, row-major, `channels` interleaved bytes per pixel (1: gray, 3: RGB), no row
// padding: pixel (x, y) channel c is pixels[(y * width + x) * channels + c].
struct Image {
  int width = 0;
  int height = 0;
  int channels = 3;
  std::vector<uint8_t> pixels;  // width * height * channels bytes

  // Returns a width x height RGB image filled with `fill`. Requires: width, height >= 0.
  static Image Filled(int width, int height, Rgb fill);
  // Returns a width x height gray image filled with `value`. Requires: width, height >= 0.
  static Image Gray(int width, int height, uint8_t value = 0);
  // Sets pixel (x, y) (a gray image stores the mean of r, g, b); silently ignores coordinates
  // outside the image (drawing clips).
  void Set(int x, int y, Rgb c);
  // Returns pixel (x, y) (gray as r = g = b). Requires: 0 <= x < width, 0 <= y < height.
  Rgb Get(int x, int y) const;
};

// Encodes `image` as PNG bytes. InvalidArgument naming the sizes for an empty image, channels
// other than 1 or 3, or a pixel count that does not match; Internal if stb_image_write fails.
absl::StatusOr<std::string> EncodePng(const Image& image);

// Encodes `image` as PNG and writes it to `path` atomically (tensor/atomic_file.h). Errors as
// EncodePng and WriteFileAtomically.
absl::Status WritePng(absl::string_view path, const Image& image);

// Returns the width in pixels of `text` drawn by DrawText at `scale` (6 * scale per character,
// minus the trailing 1-pixel gap).
int TextWidth(absl::string_view text, int scale = 1);
// Draws `text` with its top-left corner at (x, y) using the 5x7 font, each font pixel a
// scale x scale square; characters without a glyph are drawn as a hollow box. Clips to the
// image. Requires: scale >= 1.
void DrawText(Image* image, int x, int y, absl::string_view text, Rgb color, int scale = 1);

namespace detail {
// Returns the 7 row bitmaps of the glyph for `c` (bit 4 = leftmost column), or nullptr if the
// font has no glyph for it. Exposed for tests.
const uint8_t* GlyphRows(char c);
}  // namespace detail

}  // namespace simdnet

#endif  // SIMDNET_TENSOR_IMAGE_H_
