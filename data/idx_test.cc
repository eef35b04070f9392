// Tests for the IDX reader: valid plain and gzip files, every rejection, and the installed
// Fashion-MNIST (skipped when dataset-fashion-mnist is not installed).
#include "data/idx.h"

#include <sys/stat.h>

#include <algorithm>

#include <string>
#include <vector>

#include "data/test_fixtures.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace simdnet {
namespace {

using ::testing::HasSubstr;

std::vector<uint8_t> Iota(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i % 256);
  return v;
}

void ExpectInvalid(const absl::StatusOr<IdxArray>& r, const std::string& what) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("f.idx")) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(what)) << r.status();
}

TEST(IdxTest, ParsesValidRank3) {
  auto r = ParseIdx(test::MakeIdx({2, 3, 4}, Iota(24)), "f.idx");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->dims, (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(r->data, Iota(24));
}

TEST(IdxTest, RejectsTruncatedHeader) {
  ExpectInvalid(ParseIdx(std::string("\0\0", 2), "f.idx"), "truncated");
  ExpectInvalid(ParseIdx(test::MakeIdx({2, 3, 4}, {}).substr(0, 10), "f.idx"), "truncated");
}

TEST(IdxTest, RejectsWrongMagic) {
  std::string bytes = test::MakeIdx({2}, {1, 2});
  bytes[0] = 0x1f;
  ExpectInvalid(ParseIdx(bytes, "f.idx"), "magic");
}

TEST(IdxTest, RejectsUnsupportedElementType) {
  std::string bytes = test::MakeIdx({2}, {1, 2});
  bytes[2] = 0x0d;  // float
  ExpectInvalid(ParseIdx(bytes, "f.idx"), "element type");
}

TEST(IdxTest, RejectsBadRank) {
  std::string bytes = test::MakeIdx({}, {});
  ExpectInvalid(ParseIdx(bytes, "f.idx"), "rank 0");
  bytes[3] = 9;
  ExpectInvalid(ParseIdx(bytes, "f.idx"), "rank 9");
}

TEST(IdxTest, RejectsTruncatedPayload) {
  ExpectInvalid(ParseIdx(test::MakeIdx({2, 3, 4}, Iota(23)), "f.idx"), "truncated");
}

TEST(IdxTest, RejectsTrailingBytes) {
  ExpectInvalid(ParseIdx(test::MakeIdx({2, 3, 4}, Iota(25)), "f.idx"), "trailing");
}

TEST(IdxTest, RejectsDimensionsThatOverflow) {
  // 2^32-1 cubed would overflow int64 if multiplied naively; no allocation may happen.
  ExpectInvalid(ParseIdx(test::MakeIdx({0xffffffffu, 0xffffffffu, 0xffffffffu}, Iota(8)), "f.idx"),
                "overflow");
  ExpectInvalid(ParseIdx(test::MakeIdx({60000, 28, 28}, Iota(8)), "f.idx", 1000), "overflow");
}

TEST(IdxTest, ReadsGzipAndPlainFiles) {
  const std::string dir = test::TempDir("idx_files");
  const std::string idx = test::MakeIdx({3, 2, 2}, Iota(12));
  test::WriteFile(dir + "/a.idx", idx);
  test::WriteFile(dir + "/a.idx.gz", test::Gzip(idx));
  auto plain = ReadIdxFile(dir + "/a.idx");
  auto gz = ReadIdxFile(dir + "/a.idx.gz");
  ASSERT_TRUE(plain.ok()) << plain.status();
  ASSERT_TRUE(gz.ok()) << gz.status();
  EXPECT_EQ(plain->data, gz->data);
  EXPECT_EQ(plain->dims, gz->dims);
}

TEST(IdxTest, RejectsGzipThatEndsEarly) {
  const std::string dir = test::TempDir("idx_gz_short");
  const std::string gz = test::Gzip(test::MakeIdx({100, 28, 28}, Iota(78400)));
  test::WriteFile(dir + "/t.gz", gz.substr(0, gz.size() / 2));
  auto r = ReadIdxFile(dir + "/t.gz");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(dir + "/t.gz"));
}

class IdxDatasetTest : public ::testing::Test {
 protected:
  absl::StatusOr<InMemoryDataset> Build(uint32_t n_images, uint32_t n_labels,
                                        std::vector<uint8_t> labels) {
    auto images = ParseIdx(test::MakeIdx({n_images, 2, 3}, Iota(n_images * 6u)), "img");
    auto lab = ParseIdx(test::MakeIdx({n_labels}, labels), "lab");
    if (!images.ok()) return images.status();
    if (!lab.ok()) return lab.status();
    return IdxToDataset(*std::move(images), *lab, MnistClassNames(), "set");
  }
};

TEST_F(IdxDatasetTest, BuildsDataset) {
  auto d = Build(3, 3, {0, 9, 4});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->num, 3);
  EXPECT_EQ(d->sample_shape(), Shape({1, 2, 3}));
  EXPECT_EQ(d->labels, (std::vector<int32_t>{0, 9, 4}));
  std::vector<float> sample(6);
  ASSERT_TRUE(d->ReadSample(1, sample.data()).ok());
  EXPECT_FLOAT_EQ(sample[0], 6.0f / 255.0f);
  const Tensor t = d->ToTensor();
  EXPECT_EQ(t.shape(), Shape({3, 1, 2, 3}));
  EXPECT_FLOAT_EQ(t[17], 17.0f / 255.0f);
}

TEST_F(IdxDatasetTest, RejectsLabelOutOfRange) {
  auto d = Build(3, 3, {0, 10, 4});
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("label 10 of image 1"));
}

TEST_F(IdxDatasetTest, RejectsCountMismatch) {
  auto d = Build(3, 2, {0, 1});
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("3 images but 2 labels"));
}

TEST_F(IdxDatasetTest, RejectsZeroImages) {
  auto d = Build(0, 0, {});
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("zero images"));
}

TEST(IdxLoaderTest, LoadsMnistStyleDirectoryAndReportsMissingFiles) {
  const std::string dir = test::TempDir("idx_mnist_dir");
  test::WriteFile(dir + "/t10k-images-idx3-ubyte.gz",
                  test::Gzip(test::MakeIdx({2, 28, 28}, Iota(2 * 784))));
  test::WriteFile(dir + "/t10k-labels-idx1-ubyte", test::MakeIdx({2}, {3, 7}));
  auto d = LoadFashionMnist(dir, Split::kTest);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->num, 2);
  EXPECT_EQ(d->classes[7], "Sneaker");
  auto missing = LoadFashionMnist(dir, Split::kTrain);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("train-images-idx3-ubyte"));
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr(dir));
}

TEST(IdxLoaderTest, ReadsInstalledFashionMnist) {
  struct stat st;
  const std::string dir = kDefaultFashionMnistDir;
  if (stat((dir + "/t10k-images-idx3-ubyte.gz").c_str(), &st) != 0) {
    GTEST_SKIP() << "dataset-fashion-mnist not installed in " << dir;
  }
  // The test split (10k) keeps this fast; the train split has the same format.
  auto d = LoadFashionMnist("", Split::kTest);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->num, 10000);
  EXPECT_EQ(d->sample_shape(), Shape({1, 28, 28}));
  EXPECT_EQ(d->labels[0], 9);  // the first test image is an ankle boot
  EXPECT_EQ(d->labels[1], 2);  // then a pullover
  int64_t per_class[10] = {};
  for (int32_t l : d->labels) ++per_class[l];
  for (int64_t c : per_class) EXPECT_EQ(c, 1000);
  // Real images are not blank: the first one has both dark and bright pixels.
  uint8_t lo = 255, hi = 0;
  for (int64_t k = 0; k < 784; ++k) {
    lo = std::min(lo, d->pixels[k]);
    hi = std::max(hi, d->pixels[k]);
  }
  EXPECT_EQ(lo, 0);
  EXPECT_GT(hi, 200);
}

}  // namespace
}  // namespace simdnet
