// ImageNet preprocessing: byte-exact agreement with torchvision's PIL Resize + CenterCrop on
// synthetic images (golden file from tools/golden/imagenet_preprocess_golden.py), the class
// names, the normalization constants, and the rejections.
#include "data/imagenet_preprocess.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "data/imagenet_classes.h"
#include "gtest/gtest.h"
#include "tensor/image.h"
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

TEST(ImageNetPreprocessTest, ImageFoldersLoadResizedAndCentreCropped) {
  // Non-square images of two classes: each sample equals the transform of its decoded file,
  // not a squeeze of the whole image.
  const std::filesystem::path root =
      std::filesystem::path(::testing::TempDir()) / "imagenet_folder";
  std::filesystem::remove_all(root);
  const int64_t sizes[][2] = {{30, 50}, {41, 23}, {16, 16}};
  std::vector<DecodedImage> originals;
  for (int k = 0; k < 3; ++k) {
    const DecodedImage im = Synthetic(sizes[k][0], sizes[k][1]);
    Image png;
    png.width = static_cast<int>(im.width);
    png.height = static_cast<int>(im.height);
    png.pixels = im.pixels;
    const std::filesystem::path dir = root / (k < 2 ? "dog" : "food");
    std::filesystem::create_directories(dir);
    ASSERT_TRUE(WritePng((dir / ("im" + std::to_string(k) + ".png")).string(), png).ok());
    originals.push_back(im);
  }
  ImageFolderOptions fo;
  fo.height = fo.width = 14;
  fo.preprocess = ImageNetFolderPreprocess(14);  // short side to 16, crop 14
  auto data = LoadImageFolder(root.string(), fo, nullptr);
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_EQ(data->num, 3);
  for (int64_t i = 0; i < 3; ++i) {
    auto expected = ResizeShortSideAndCenterCrop(originals[static_cast<size_t>(i)], 16, 14);
    ASSERT_TRUE(expected.ok());
    const std::vector<uint8_t> got(data->SamplePixels(i), data->SamplePixels(i) + 3 * 14 * 14);
    EXPECT_EQ(got, *expected) << i;
  }
  // A preprocess error names the file.
  fo.height = fo.width = 20;
  fo.preprocess = [](const DecodedImage&) -> absl::StatusOr<std::vector<uint8_t>> {
    return absl::InvalidArgumentError("too small");
  };
  auto bad = LoadImageFolder(root.string(), fo, nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("im0.png: too small"), std::string::npos) << bad.status();
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
