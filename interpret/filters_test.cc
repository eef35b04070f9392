// Tests for the filter pictures: layer lookup errors, tile layouts and the per-filter stretch.
#include "interpret/filters.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "layers/model_spec.h"

namespace simdnet {
namespace {

std::unique_ptr<Model> SmallNet() {
  auto model = ModelFromSpec(
      "input 1x8x8\nblock features { conv 4 k3 p1; relu; conv 5 k3 p1; relu; maxpool k2 }\n"
      "block classifier { flatten; linear classes }",
      std::nullopt, 3, 7);
  EXPECT_TRUE(model.ok()) << model.status();
  return std::move(model).value();
}

TEST(FiltersTest, ConvLayerNamesInForwardOrder) {
  auto model = SmallNet();
  EXPECT_EQ(ConvLayerNames(*model), (std::vector<std::string>{"features.0", "features.2"}));
}

TEST(FiltersTest, EmptyNameMeansFirstConv) {
  auto model = SmallNet();
  auto conv = FindConvLayer(*model, "");
  ASSERT_TRUE(conv.ok()) << conv.status();
  EXPECT_EQ(*conv, *model->FindLayer("features.0"));
}

TEST(FiltersTest, NonConvLayerNamesTypeAndConvLayers) {
  auto model = SmallNet();
  auto conv = FindConvLayer(*model, "features.1");
  ASSERT_FALSE(conv.ok());
  const std::string m(conv.status().message());
  EXPECT_NE(m.find("--layer=features.1"), std::string::npos) << m;
  EXPECT_NE(m.find("relu"), std::string::npos) << m;
  EXPECT_NE(m.find("features.0, features.2"), std::string::npos) << m;
}

TEST(FiltersTest, UnknownLayerNamesFlag) {
  auto model = SmallNet();
  auto conv = FindConvLayer(*model, "features.99");
  ASSERT_FALSE(conv.ok());
  EXPECT_NE(conv.status().message().find("--layer=features.99"), std::string::npos);
}

TEST(FiltersTest, ModelWithoutConvIsNotFound) {
  auto model = ModelFromSpec("input 4\nlinear classes", std::nullopt, 2, 1);
  ASSERT_TRUE(model.ok());
  auto conv = FindConvLayer(**model, "");
  EXPECT_EQ(conv.status().code(), absl::StatusCode::kNotFound);
}

TEST(FiltersTest, GrayFiltersAreStretchedPerFilter) {
  auto model = SmallNet();
  Conv2d* conv = *FindConvLayer(*model, "features.0");
  FilterGridOptions o;
  o.pixels_per_weight = 8;
  auto image = RenderFilters(*conv, o);
  ASSERT_TRUE(image.ok()) << image.status();
  // 4 tiles of 24 px in one row.
  EXPECT_GE(image->width, 4 * 24);
  // Every filter has a black (its min) and a white (its max) weight somewhere.
  int black = 0, white = 0;
  for (int y = 0; y < image->height; ++y) {
    for (int x = 0; x < image->width; ++x) {
      const Rgb c = image->Get(x, y);
      black += c == Rgb{0, 0, 0};
      white += c.r == 255 && c.g == 255 && c.b == 255;
    }
  }
  EXPECT_GE(black, 4 * 64);  // at least one 8x8 block per filter
  EXPECT_GT(white, 0);
}

TEST(FiltersTest, DeepLayerGridAndChannelMean) {
  auto model = SmallNet();
  Conv2d* conv = *FindConvLayer(*model, "features.2");  // weight 5x4x3x3
  FilterGridOptions o;
  o.pixels_per_weight = 8;
  o.max_filters = 3;
  o.max_channels = 2;
  auto grid = RenderFilters(*conv, o);
  ASSERT_TRUE(grid.ok()) << grid.status();
  o.channel_mean = true;
  auto mean = RenderFilters(*conv, o);
  ASSERT_TRUE(mean.ok()) << mean.status();
  // 3 rows of tiles vs 1 row of captioned tiles.
  EXPECT_GT(grid->height, mean->height + 30);
}

TEST(FiltersTest, BadOptionsNameTheFlag) {
  auto model = SmallNet();
  Conv2d* conv = *FindConvLayer(*model, "features.2");
  FilterGridOptions o;
  o.max_filters = 0;
  EXPECT_NE(RenderFilters(*conv, o).status().message().find("--max_filters=0"),
            std::string::npos);
  o.max_filters = 1;
  o.max_channels = -2;
  EXPECT_NE(RenderFilters(*conv, o).status().message().find("--max_channels=-2"),
            std::string::npos);
  o.max_channels = 1;
  o.pixels_per_weight = -1;
  EXPECT_NE(RenderFilters(*conv, o).status().message().find("--pixels_per_weight=-1"),
            std::string::npos);
}

}  // namespace
}  // namespace simdnet
