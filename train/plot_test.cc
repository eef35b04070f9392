// Tests for the PNG line plots: ticks, font, curve placement and orientation, gaps, legend
// colors, PNG round trip through stb_image, and argument errors.
#include "train/plot.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "stb/stb_image.h"
#include "tensor/atomic_file.h"

namespace simdnet {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Box {
  int x0 = 1 << 30, y0 = 1 << 30, x1 = -1, y1 = -1;
  int64_t count = 0;
};

// Returns the bounding box and count of pixels of exactly color c.
Box FindColor(const RgbImage& img, Rgb c, int x_from = 0, int x_to = -1) {
  Box b;
  if (x_to < 0) x_to = img.width - 1;
  for (int y = 0; y < img.height; ++y) {
    for (int x = x_from; x <= x_to; ++x) {
      if (img.Get(x, y) != c) continue;
      b.x0 = std::min(b.x0, x);
      b.x1 = std::max(b.x1, x);
      b.y0 = std::min(b.y0, y);
      b.y1 = std::max(b.y1, y);
      ++b.count;
    }
  }
  return b;
}

TEST(NiceTicksTest, PicksOneTwoFiveSteps) {
  EXPECT_EQ(NiceTicks(0, 1, 5), (std::vector<double>{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1}));
  const std::vector<double> t = NiceTicks(0.013, 0.087, 5);
  ASSERT_EQ(t.size(), 6u);
  EXPECT_DOUBLE_EQ(t.front(), 0.0);
  EXPECT_DOUBLE_EQ(t[1], 0.02);
  EXPECT_DOUBLE_EQ(t.back(), 0.1);
  EXPECT_EQ(NiceTicks(1, 10, 5), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(NiceTicks(-3, 7, 2), (std::vector<double>{-5, 0, 5, 10}));
}

TEST(NiceTicksTest, IntegerStepsForEpochAxes) {
  EXPECT_EQ(NiceTicks(1, 1, 6, true), (std::vector<double>{0, 1, 2}));
  EXPECT_EQ(NiceTicks(1, 3, 6, true), (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(NiceTicks(1, 3, 6, false), (std::vector<double>{1, 1.5, 2, 2.5, 3}));
  EXPECT_EQ(NiceTicks(0, 100, 5, true), (std::vector<double>{0, 20, 40, 60, 80, 100}));
}

TEST(NiceTicksTest, WidensDegenerateRanges) {
  const std::vector<double> t = NiceTicks(2.5, 2.5, 4);
  EXPECT_LT(t.front(), 2.5);
  EXPECT_GT(t.back(), 2.5);
  const std::vector<double> z = NiceTicks(0, 0, 4);
  EXPECT_LT(z.front(), 0.0);
  EXPECT_GT(z.back(), 0.0);
  const std::vector<double> n = NiceTicks(kNaN, 1, 4);
  EXPECT_EQ(n.front(), 0.0);
  EXPECT_EQ(n.back(), 1.0);
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
  RgbImage img = RgbImage::Filled(20, 10, Rgb{255, 255, 255});
  DrawText(&img, 1, 1, "L", Rgb{0, 0, 0});
  // "L" is the left column (7 pixels) plus the bottom row (4 more).
  EXPECT_EQ(FindColor(img, Rgb{0, 0, 0}).count, 11);
  EXPECT_EQ(img.Get(1, 1), (Rgb{0, 0, 0}));
  EXPECT_EQ(img.Get(5, 7), (Rgb{0, 0, 0}));
  EXPECT_EQ(img.Get(2, 1), (Rgb{255, 255, 255}));
  RgbImage big = RgbImage::Filled(40, 40, Rgb{255, 255, 255});
  DrawText(&big, 0, 0, "L", Rgb{0, 0, 0}, 3);
  EXPECT_EQ(FindColor(big, Rgb{0, 0, 0}).count, 11 * 9);
  EXPECT_EQ(TextWidth("abc"), 17);
  EXPECT_EQ(TextWidth("abc", 2), 34);
  EXPECT_EQ(TextWidth(""), 0);
  // Clipping: drawing off the image is harmless.
  DrawText(&img, -3, 8, "WWW", Rgb{1, 2, 3}, 2);
}

TEST(PlotTest, HorizontalLineIsFlatAndSpansThePlot) {
  PlotSeries s{"flat", {0, 1, 2, 3, 4}, {0.5, 0.5, 0.5, 0.5, 0.5}};
  PlotOptions o;
  auto img = RenderLinePlot({s}, o);
  ASSERT_TRUE(img.ok()) << img.status();
  EXPECT_EQ(img->width, 640);
  EXPECT_EQ(img->height, 400);
  const Rgb c = SeriesColor(0);
  // Exclude the legend sample (short, near the legend box) by looking at the left half.
  const Box b = FindColor(*img, c, 0, img->width / 2);
  ASSERT_GT(b.count, 0);
  EXPECT_LE(b.y1 - b.y0, 2) << "line should be 2 pixels thick";
  EXPECT_GT(b.y0, img->height / 4);
  EXPECT_LT(b.y0, img->height * 3 / 4);
  const Box all = FindColor(*img, c);
  EXPECT_GT(all.x1 - all.x0, img->width * 3 / 4);
}

TEST(PlotTest, IncreasingSeriesRisesToTheRight) {
  PlotSeries s{"", {1, 2, 3, 4, 5}, {0.1, 0.3, 0.5, 0.7, 0.9}};
  auto img = RenderLinePlot({s}, PlotOptions());
  ASSERT_TRUE(img.ok());
  const Rgb c = SeriesColor(0);
  int left_y = -1, right_y = -1;
  const Box b = FindColor(*img, c);
  for (int y = 0; y < img->height; ++y) {
    if (img->Get(b.x0, y) == c && left_y < 0) left_y = y;
    if (img->Get(b.x1, y) == c && right_y < 0) right_y = y;
  }
  EXPECT_GT(left_y, right_y + 100) << "larger y must be drawn higher";
}

TEST(PlotTest, NaNBreaksTheLine) {
  PlotSeries s{"", {0, 1, 2, 3, 4, 5, 6}, {1, 1, 1, kNaN, 1, 1, 1}};
  auto img = RenderLinePlot({s}, PlotOptions());
  ASSERT_TRUE(img.ok());
  const Rgb c = SeriesColor(0);
  const Box b = FindColor(*img, c);
  // The column in the middle of the plot (x = 3) has no curve pixel.
  const int mid = (b.x0 + b.x1) / 2;
  bool any = false;
  for (int y = 0; y < img->height; ++y) any |= img->Get(mid, y) == c;
  EXPECT_FALSE(any);
}

TEST(PlotTest, SeveralSeriesGetDistinctColorsAndLegend) {
  std::vector<PlotSeries> s = {{"train loss", {1, 2, 3}, {2.0, 1.0, 0.5}},
                               {"test loss", {1, 2, 3}, {2.1, 1.3, 0.9}},
                               {"lr", {1, 2, 3}, {0.1, 0.1, 0.1}}};
  PlotOptions o;
  o.title = "Loss";
  o.x_label = "epoch";
  o.y_label = "loss";
  auto img = RenderLinePlot(s, o);
  ASSERT_TRUE(img.ok());
  for (size_t i = 0; i < 3; ++i) EXPECT_GT(FindColor(*img, SeriesColor(i)).count, 50) << i;
  EXPECT_NE(SeriesColor(0), SeriesColor(1));
  EXPECT_EQ(SeriesColor(8), SeriesColor(0));
}

TEST(PlotTest, LogAxisSkipsNonPositiveValues) {
  PlotSeries s{"lr", {0, 1, 2, 3}, {0.1, 0.01, 0.0, 0.001}};
  PlotOptions o;
  o.log_y = true;
  auto img = RenderLinePlot({s}, o);
  ASSERT_TRUE(img.ok()) << img.status();
  EXPECT_GT(FindColor(*img, SeriesColor(0)).count, 20);
}

TEST(PlotTest, EmptyAndSinglePointSeriesRender) {
  EXPECT_TRUE(RenderLinePlot({}, PlotOptions()).ok());
  EXPECT_TRUE(RenderLinePlot({PlotSeries{"none", {}, {}}}, PlotOptions()).ok());
  auto one = RenderLinePlot({PlotSeries{"", {1}, {0.5}}}, PlotOptions());
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(FindColor(*one, SeriesColor(0)).count, 16);  // The 4x4 marker.
}

TEST(PlotTest, RejectsBadArgumentsNamingThem) {
  auto r = RenderLinePlot({PlotSeries{"acc", {1, 2}, {1}}}, PlotOptions());
  EXPECT_TRUE(absl::IsInvalidArgument(r.status()));
  EXPECT_TRUE(absl::StrContains(r.status().message(), "'acc' has 2 x values but 1 y values"));
  PlotOptions o;
  o.width = 10;
  EXPECT_TRUE(absl::StrContains(RenderLinePlot({}, o).status().message(), "width 10"));
  o.width = 640;
  o.height = 100000;
  EXPECT_TRUE(absl::StrContains(RenderLinePlot({}, o).status().message(), "height 100000"));
}

TEST(PngTest, EncodesLosslesslyAndWritesFile) {
  RgbImage img = RgbImage::Filled(7, 5, Rgb{10, 20, 30});
  img.Set(3, 2, Rgb{200, 100, 0});
  img.Set(100, 100, Rgb{1, 1, 1});  // Ignored (outside).
  auto png = EncodePng(img);
  ASSERT_TRUE(png.ok()) << png.status();
  EXPECT_EQ(png->substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  int w = 0, h = 0, ch = 0;
  unsigned char* px = stbi_load_from_memory(reinterpret_cast<const unsigned char*>(png->data()),
                                            static_cast<int>(png->size()), &w, &h, &ch, 3);
  ASSERT_NE(px, nullptr);
  EXPECT_EQ(w, 7);
  EXPECT_EQ(h, 5);
  EXPECT_EQ(std::vector<uint8_t>(px, px + 7 * 5 * 3), img.pixels);
  stbi_image_free(px);

  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string path = absl::StrCat(tmp ? tmp : "/tmp", "/loss.png");
  ASSERT_TRUE(WriteLinePlotPng(path, {PlotSeries{"a", {0, 1}, {0, 1}}}, PlotOptions()).ok());
  auto bytes = ReadFile(path);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(bytes->substr(1, 3), "PNG");
}

TEST(PngTest, RejectsEmptyOrInconsistentImage) {
  EXPECT_TRUE(absl::IsInvalidArgument(EncodePng(RgbImage()).status()));
  RgbImage bad = RgbImage::Filled(2, 2, Rgb{});
  bad.pixels.pop_back();
  EXPECT_TRUE(absl::StrContains(EncodePng(bad).status().message(), "inconsistent"));
}

}  // namespace
}  // namespace simdnet
