// Tests of the image type and the PNG encoder: gray and RGB round trips through stb_image,
// odd sizes, clipping, and the rejections of inconsistent images.
#include "tensor/image.h"

#include <stb/stb_image.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>
#include <set>

#include "gtest/gtest.h"
#include "tensor/atomic_file.h"

namespace simdnet {
namespace {

// Decodes PNG bytes with stb_image, keeping the file's channel count.
Image Decode(const std::string& png) {
  int w = 0, h = 0, c = 0;
  unsigned char* data = stbi_load_from_memory(reinterpret_cast<const unsigned char*>(png.data()),
                                              static_cast<int>(png.size()), &w, &h, &c, 0);
  EXPECT_NE(data, nullptr) << stbi_failure_reason();
  Image out;
  if (data == nullptr) return out;
  out.width = w;
  out.height = h;
  out.channels = c;
  out.pixels.assign(data, data + static_cast<size_t>(w) * h * c);
  stbi_image_free(data);
  return out;
}

TEST(ImageTest, RgbRoundTripsThroughPngAtOddSizes) {
  for (int w : {1, 3, 17}) {
    for (int h : {1, 5}) {
      Image img = Image::Filled(w, h, Rgb{10, 20, 30});
      for (int y = 0; y < h; ++y) {
        for (int x = 0; x < w; ++x) {
          img.Set(x, y, Rgb{static_cast<uint8_t>(x * 13), static_cast<uint8_t>(y * 7), 200});
        }
      }
      absl::StatusOr<std::string> png = EncodePng(img);
      ASSERT_TRUE(png.ok()) << png.status();
      const Image back = Decode(*png);
      EXPECT_EQ(back.width, w);
      EXPECT_EQ(back.height, h);
      EXPECT_EQ(back.channels, 3);
      EXPECT_EQ(back.pixels, img.pixels);
    }
  }
}

TEST(ImageTest, GrayRoundTripsAndReadsAsEqualChannels) {
  Image img = Image::Gray(4, 3, 7);
  img.Set(1, 2, Rgb{30, 60, 90});
  EXPECT_EQ(img.Get(1, 2), (Rgb{60, 60, 60}));
  EXPECT_EQ(img.Get(0, 0), (Rgb{7, 7, 7}));
  absl::StatusOr<std::string> png = EncodePng(img);
  ASSERT_TRUE(png.ok()) << png.status();
  const Image back = Decode(*png);
  EXPECT_EQ(back.channels, 1);
  EXPECT_EQ(back.pixels, img.pixels);
}

TEST(ImageTest, SetClipsOutsideTheImage) {
  Image img = Image::Filled(2, 2, Rgb{1, 2, 3});
  const std::vector<uint8_t> before = img.pixels;
  img.Set(-1, 0, Rgb{9, 9, 9});
  img.Set(0, 2, Rgb{9, 9, 9});
  img.Set(2, 1, Rgb{9, 9, 9});
  EXPECT_EQ(img.pixels, before);
}

TEST(ImageTest, RejectsEmptyOrInconsistentImages) {
  Image empty;
  EXPECT_TRUE(absl::IsInvalidArgument(EncodePng(empty).status()));
  Image short_pixels = Image::Filled(3, 3, Rgb{});
  short_pixels.pixels.pop_back();
  absl::Status s = EncodePng(short_pixels).status();
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_NE(s.message().find("3x3x3"), absl::string_view::npos) << s;
  Image two_channels = Image::Gray(2, 2);
  two_channels.channels = 2;
  two_channels.pixels.resize(8);
  EXPECT_TRUE(absl::IsInvalidArgument(EncodePng(two_channels).status()));
}

TEST(ImageTest, WritePngWritesADecodableFile) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(tmp != nullptr ? tmp : "/tmp") + "/image_test.png";
  Image img = Image::Filled(6, 2, Rgb{255, 0, 0});
  ASSERT_TRUE(WritePng(path, img).ok());
  absl::StatusOr<std::string> bytes = ReadFile(path);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(Decode(*bytes).pixels, img.pixels);
  EXPECT_FALSE(WritePng(path, Image{}).ok());
}

// Returns the number of pixels of exactly color c.
int64_t CountColor(const Image& img, Rgb c) {
  int64_t n = 0;
  for (int y = 0; y < img.height; ++y) {
    for (int x = 0; x < img.width; ++x) n += img.Get(x, y) == c;
  }
  return n;
}

TEST(FontTest, EveryPrintableAsciiGlyphFitsFiveColumns) {
  int with_glyph = 0;
  for (char c = 32; c < 127; ++c) {
    const uint8_t* rows = detail::GlyphRows(c);
    if (rows == nullptr) continue;
    ++with_glyph;
    for (int r = 0; r < 7; ++r) EXPECT_EQ(rows[r] & ~0x1F, 0) << "glyph '" << c << "'";
  }
  EXPECT_GE(with_glyph, 85);
  for (char c : std::string("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-%")) {
    EXPECT_NE(detail::GlyphRows(c), nullptr) << c;
  }
  EXPECT_EQ(detail::GlyphRows('\x01'), nullptr);
}

TEST(FontTest, GlyphsAreDistinct) {
  std::set<std::vector<uint8_t>> seen;
  for (char c = 33; c < 127; ++c) {
    const uint8_t* rows = detail::GlyphRows(c);
    if (rows == nullptr) continue;
    EXPECT_TRUE(seen.insert(std::vector<uint8_t>(rows, rows + 7)).second)
        << "duplicate '" << c << "'";
  }
}

TEST(FontTest, DrawTextSetsExactlyTheGlyphPixels) {
  Image img = Image::Filled(20, 10, Rgb{255, 255, 255});
  DrawText(&img, 1, 1, "L", Rgb{0, 0, 0});
  // "L" is the left column (7 pixels) plus the bottom row (4 more).
  EXPECT_EQ(CountColor(img, Rgb{0, 0, 0}), 11);
  EXPECT_EQ(img.Get(1, 1), (Rgb{0, 0, 0}));
  EXPECT_EQ(img.Get(5, 7), (Rgb{0, 0, 0}));
  EXPECT_EQ(img.Get(2, 1), (Rgb{255, 255, 255}));
  Image big = Image::Filled(40, 40, Rgb{255, 255, 255});
  DrawText(&big, 0, 0, "L", Rgb{0, 0, 0}, 3);
  EXPECT_EQ(CountColor(big, Rgb{0, 0, 0}), 11 * 9);
  EXPECT_EQ(TextWidth("abc"), 17);
  EXPECT_EQ(TextWidth("abc", 2), 34);
  EXPECT_EQ(TextWidth(""), 0);
  // Clipping: drawing off the image is harmless.
  DrawText(&img, -3, 8, "WWW", Rgb{1, 2, 3}, 2);
}

}  // namespace
}  // namespace simdnet
