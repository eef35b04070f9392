// Tests for the interpretation rendering helpers: pixel conversion, color maps, overlays,
// stretching and grid layout.
#include "interpret/image.h"

#include <vector>

#include "gtest/gtest.h"

namespace simdnet {
namespace {

TEST(ImageTest, PixelsToImageReplicatesGrayAndScales) {
  const std::vector<float> px = {0.0f, 1.0f, 0.5f, 2.0f};  // 2x2, last clamped
  const Image img = PixelsToImage(px.data(), 1, 2, 2, 3);
  ASSERT_EQ(img.width, 6);
  ASSERT_EQ(img.height, 6);
  EXPECT_EQ(img.Get(0, 0), (Rgb{0, 0, 0}));
  EXPECT_EQ(img.Get(5, 2), (Rgb{255, 255, 255}));
  EXPECT_EQ(img.Get(2, 5), (Rgb{128, 128, 128}));
  EXPECT_EQ(img.Get(5, 5), (Rgb{255, 255, 255}));
}

TEST(ImageTest, PixelsToImageReadsPlanarRgb) {
  const std::vector<float> px = {1.0f, 0.0f, 0.5f};  // 1x1, C=3
  const Image img = PixelsToImage(px.data(), 3, 1, 1, 1);
  EXPECT_EQ(img.Get(0, 0), (Rgb{255, 0, 128}));
}

TEST(ImageTest, HeatColorIsDarkToBrightAndMonotoneInLuminance) {
  auto lum = [](Rgb c) { return 0.299 * c.r + 0.587 * c.g + 0.114 * c.b; };
  double last = -1.0;
  for (int i = 0; i <= 20; ++i) {
    const double l = lum(HeatColor(i / 20.0f));
    EXPECT_GT(l, last) << i;
    last = l;
  }
  EXPECT_LT(lum(HeatColor(0.0f)), 10.0);
  EXPECT_GT(lum(HeatColor(1.0f)), 230.0);
  EXPECT_EQ(HeatColor(-3.0f), HeatColor(0.0f));
  EXPECT_EQ(HeatColor(7.0f), HeatColor(1.0f));
}

TEST(ImageTest, HeatMapMapsTheRangeAndHandlesAConstantRange) {
  const std::vector<float> m = {0.0f, 10.0f};
  const Image img = HeatMapImage(m.data(), 1, 2, 0.0f, 10.0f, 2);
  EXPECT_EQ(img.Get(0, 0), HeatColor(0.0f));
  EXPECT_EQ(img.Get(3, 1), HeatColor(1.0f));
  const Image flat = HeatMapImage(m.data(), 1, 2, 5.0f, 5.0f, 1);
  EXPECT_EQ(flat.Get(1, 0), HeatColor(0.0f));
}

TEST(ImageTest, OverlayKeepsColdPixelsAndColorsHotOnes) {
  const std::vector<float> px = {0.5f, 0.5f};
  const Image base = PixelsToImage(px.data(), 1, 1, 2, 2);
  const std::vector<float> m = {0.0f, 1.0f};
  const Image out = OverlayHeatMap(base, m.data(), 1, 2, 0.0f, 1.0f, 1.0f);
  EXPECT_EQ(out.Get(0, 0), base.Get(0, 0));
  EXPECT_EQ(out.Get(3, 1), HeatColor(1.0f));
}

TEST(ImageTest, StretchMapsMinToBlackAndMaxToWhite) {
  const std::vector<float> w = {-3.0f, 1.0f, 5.0f};
  const Image img = StretchToImage(w.data(), 1, 1, 3, 1);
  EXPECT_EQ(img.Get(0, 0), (Rgb{0, 0, 0}));
  EXPECT_EQ(img.Get(1, 0), (Rgb{128, 128, 128}));
  EXPECT_EQ(img.Get(2, 0), (Rgb{255, 255, 255}));
  const std::vector<float> flat = {2.0f, 2.0f};
  EXPECT_EQ(StretchToImage(flat.data(), 1, 1, 2, 1).Get(1, 0), (Rgb{128, 128, 128}));
}

TEST(ImageTest, DivergingIsWhiteAtZeroRedPositiveBlueNegative) {
  const std::vector<float> v = {0.0f, 2.0f, -2.0f};
  const Image img = DivergingImage(v.data(), 1, 3, 1);
  EXPECT_EQ(img.Get(0, 0), (Rgb{255, 255, 255}));
  EXPECT_EQ(img.Get(1, 0), (Rgb{178, 24, 43}));
  EXPECT_EQ(img.Get(2, 0), (Rgb{33, 102, 172}));
}

TEST(ImageTest, GridPlacesTilesRowMajorWithTitleAndCaptions) {
  std::vector<Image> tiles;
  for (int i = 0; i < 5; ++i) tiles.push_back(Image::Filled(10, 10, Rgb{0, 0, 200}));
  TileGridOptions o;
  o.cols = 2;
  o.gap = 4;
  o.title = "T";
  o.captions = {"a", "b", "c", "d", "e"};
  const Image g = ComposeGrid(tiles, o);
  // 3 rows of (10 + caption 12) + gaps; 2 columns.
  EXPECT_EQ(g.width, 4 + 2 * (10 + 4));
  const int title_h = 8 * 2 + 4;
  EXPECT_EQ(g.height, 4 + title_h + 3 * (10 + 12 + 4));
  EXPECT_EQ(g.Get(4, 4 + title_h), (Rgb{0, 0, 200}));        // tile 0's corner
  EXPECT_EQ(g.Get(4 + 14, 4 + title_h), (Rgb{0, 0, 200}));   // tile 1
  EXPECT_EQ(g.Get(4 + 14, 4 + title_h + 2 * 26), (Rgb{255, 255, 255}));  // no tile 5
  const Image empty = ComposeGrid({}, TileGridOptions{});
  EXPECT_GE(empty.width, 1);
}

TEST(ImageTest, UpscaleAndScaleFor) {
  Image one = Image::Filled(1, 2, Rgb{1, 2, 3});
  one.Set(0, 1, Rgb{9, 9, 9});
  const Image up = Upscale(one, 3);
  EXPECT_EQ(up.width, 3);
  EXPECT_EQ(up.height, 6);
  EXPECT_EQ(up.Get(2, 4), (Rgb{9, 9, 9}));
  EXPECT_EQ(ScaleFor(28, 112), 4);
  EXPECT_EQ(ScaleFor(30, 112), 4);
  EXPECT_EQ(ScaleFor(224, 112), 1);
}

}  // namespace
}  // namespace simdnet
