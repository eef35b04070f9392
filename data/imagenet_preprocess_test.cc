// ImageNet preprocessing: byte-exact agreement with torchvision's PIL Resize + CenterCrop on
// synthetic images (golden file from tools/golden/imagenet_preprocess_golden.py), the class
// names, the normalization constants, and the rejections.
#include "data/imagenet_preprocess.h"

#include <fstream>
#include <sstream>
#include <string>

#include "data/imagenet_classes.h"
#include "gtest/gtest.h"
#include "tensor/test_data.h"

namespace simdnet {
namespace {

DecodedImage Synthetic(int64_t h, int64_t w) {
  DecodedImage im;
  im.height = h;
  im.width = w;
  im.channels = 3;
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      for (int64_t c = 0; c < 3; ++c) {
        im.pixels.push_back(static_cast<uint8_t>((x * 37 + y * 11 + c * 71 + (x * y) % 17) % 256));
      }
    }
  }
  return im;
}

TEST(ImageNetPreprocessTest, MatchesTorchvisionPilPipelineByteForByte) {
  std::ifstream f(TestDataPath("data/testdata/imagenet_preprocess_golden.txt"));
  ASSERT_TRUE(f) << "missing golden file";
  std::string line;
  int cases = 0;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    int64_t h, w, resize, crop;
    std::string hex;
    ASSERT_TRUE(in >> h >> w >> resize >> crop >> hex);
    auto out = ResizeShortSideAndCenterCrop(Synthetic(h, w), resize, crop);
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_EQ(out->size() * 2, hex.size());
    int mismatches = 0;
    for (size_t i = 0; i < out->size(); ++i) {
      const int expected = std::stoi(hex.substr(i * 2, 2), nullptr, 16);
      if ((*out)[i] != expected && ++mismatches <= 5) {
        ADD_FAILURE() << h << "x" << w << " -> " << resize << "/" << crop << " byte " << i
                      << ": " << int((*out)[i]) << " vs PIL " << expected;
      }
    }
    EXPECT_EQ(mismatches, 0) << h << "x" << w;
    ++cases;
  }
  EXPECT_EQ(cases, 5);
}

TEST(ImageNetPreprocessTest, RejectsCropLargerThanResizeAndEmptyImages) {
  auto bad = ResizeShortSideAndCenterCrop(Synthetic(8, 8), 4, 6);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("resize 4 / crop 6"), std::string::npos);
  DecodedImage empty;
  EXPECT_FALSE(ResizeShortSideAndCenterCrop(empty, 8, 4).ok());
  auto missing = LoadImageNetImage("/nonexistent/cat.jpg");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/cat.jpg"), std::string::npos);
}

TEST(ImageNetPreprocessTest, ClassNamesAndNormalization) {
  const auto names = ImageNetClassNames();
  ASSERT_EQ(names.size(), 1000u);
  EXPECT_EQ(names[0], "tench");
  EXPECT_EQ(names[151], "Chihuahua");
  EXPECT_EQ(names[268], "Mexican hairless");
  EXPECT_EQ(names[924], "guacamole");
  EXPECT_EQ(names[999], "toilet tissue");
  const Normalization n = ImageNetNormalization();
  EXPECT_EQ(n.kind, Normalization::Kind::kPerChannel);
  EXPECT_FLOAT_EQ(n.mean[0], 0.485f);
  EXPECT_FLOAT_EQ(n.stddev[2], 0.225f);
  EXPECT_EQ(n.height, 224);
}

}  // namespace
}  // namespace simdnet
