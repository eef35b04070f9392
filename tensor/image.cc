// Image helpers and PNG encoding through stb_image_write (Debian's libstb).
#include "tensor/image.h"

#include <stb/stb_image_write.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "tensor/atomic_file.h"
#include "tensor/status_macros.h"

namespace simdnet {

Image Image::Filled(int width, int height, Rgb fill) {
  SIMDNET_CHECK(width >= 0 && height >= 0);
  Image img;
  img.width = width;
  img.height = height;
  img.channels = 3;
  img.pixels.resize(static_cast<size_t>(width) * height * 3);
  for (size_t i = 0; i < img.pixels.size(); i += 3) {
    img.pixels[i] = fill.r;
    img.pixels[i + 1] = fill.g;
    img.pixels[i + 2] = fill.b;
  }
  return img;
}

Image Image::Gray(int width, int height, uint8_t value) {
  SIMDNET_CHECK(width >= 0 && height >= 0);
  Image img;
  img.width = width;
  img.height = height;
  img.channels = 1;
  img.pixels.assign(static_cast<size_t>(width) * height, value);
  return img;
}

void Image::Set(int x, int y, Rgb c) {
  if (x < 0 || y < 0 || x >= width || y >= height) return;
  uint8_t* p = &pixels[(static_cast<size_t>(y) * width + x) * channels];
  if (channels == 1) {
    p[0] = static_cast<uint8_t>((c.r + c.g + c.b + 1) / 3);
    return;
  }
  p[0] = c.r;
  p[1] = c.g;
  p[2] = c.b;
}

Rgb Image::Get(int x, int y) const {
  SIMDNET_CHECK(x >= 0 && y >= 0 && x < width && y < height);
  const uint8_t* p = &pixels[(static_cast<size_t>(y) * width + x) * channels];
  if (channels == 1) return Rgb{p[0], p[0], p[0]};
  return Rgb{p[0], p[1], p[2]};
}

absl::StatusOr<std::string> EncodePng(const Image& image) {
  if (image.width <= 0 || image.height <= 0 || (image.channels != 1 && image.channels != 3) ||
      image.pixels.size() != static_cast<size_t>(image.width) * static_cast<size_t>(image.height) *
                                 static_cast<size_t>(image.channels)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "EncodePng: image ", image.width, "x", image.height, "x", image.channels, " with ",
        image.pixels.size(), " bytes is empty, has 0 or 2 or 4+ channels, or is inconsistent"));
  }
  std::string out;
  auto sink = [](void* ctx, void* data, int size) {
    static_cast<std::string*>(ctx)->append(static_cast<const char*>(data),
                                           static_cast<size_t>(size));
  };
  if (stbi_write_png_to_func(sink, &out, image.width, image.height, image.channels,
                             image.pixels.data(), image.width * image.channels) == 0) {
    return absl::InternalError(absl::StrCat("EncodePng: stb_image_write failed for a ", image.width,
                                            "x", image.height, " image"));
  }
  return out;
}

absl::Status WritePng(absl::string_view path, const Image& image) {
  SIMDNET_ASSIGN_OR_RETURN(std::string png, EncodePng(image));
  return WriteFileAtomically(path, png);
}

}  // namespace simdnet
