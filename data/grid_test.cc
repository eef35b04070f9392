// Tests for the augmentation grid renderer.
#include "data/grid.h"

#include <string>

#include <stb/stb_image.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace simdnet {
namespace {

using ::testing::HasSubstr;

InMemoryDataset Gray(int64_t n) {
  InMemoryDataset d;
  d.num = n;
  d.channels = 1;
  d.height = 3;
  d.width = 4;
  d.classes = {"a"};
  for (int64_t i = 0; i < n * 12; ++i) d.pixels.push_back(static_cast<uint8_t>(i * 20 % 256));
  d.labels.assign(static_cast<size_t>(n), 0);
  return d;
}

TEST(GridTest, LayoutAndOriginalColumn) {
  const InMemoryDataset d = Gray(3);
  auto aug = ParseAugmentSpec("hflip=1");
  ASSERT_TRUE(aug.ok());
  GridOptions opt;
  opt.rows = 2;
  opt.cols = 2;
  opt.first_sample = 1;
  opt.scale = 2;
  opt.border = 1;
  auto g = RenderAugmentGrid(d, *aug, opt);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->height, 2 * 6 + 3);
  EXPECT_EQ(g->width, 2 * 8 + 3);
  EXPECT_EQ(g->pixels[0], 255);  // border
  // Cell (0, 0) is sample 1 unchanged; cell (0, 1) is it mirrored.
  EXPECT_EQ(g->pixels[1 * g->width + 1], d.SamplePixels(1)[0]);
  EXPECT_EQ(g->pixels[1 * g->width + 1 + 8 + 1], d.SamplePixels(1)[3]);
  auto png = EncodePng(*g);
  ASSERT_TRUE(png.ok());
  int w = 0, h = 0, c = 0;
  ASSERT_TRUE(stbi_info_from_memory(reinterpret_cast<const stbi_uc*>(png->data()),
                                    static_cast<int>(png->size()), &w, &h, &c));
  EXPECT_EQ(w, g->width);
  EXPECT_EQ(h, g->height);
}

TEST(GridTest, RejectsBadOptions) {
  const InMemoryDataset d = Gray(2);
  Augmenter none;
  GridOptions opt;
  opt.rows = 3;
  EXPECT_THAT(std::string(RenderAugmentGrid(d, none, opt).status().message()),
              HasSubstr("exceed the data set size 2"));
  opt.rows = 1;
  opt.scale = 0;
  EXPECT_THAT(std::string(RenderAugmentGrid(d, none, opt).status().message()), HasSubstr("scale"));
}

}  // namespace
}  // namespace simdnet
