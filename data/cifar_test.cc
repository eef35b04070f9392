// Tests for the CIFAR-10 / CIFAR-100 binary readers: valid directories and every rejection.
#include "data/cifar.h"

#include <string>
#include <vector>

#include "data/test_fixtures.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace simdnet {
namespace {

using ::testing::HasSubstr;

TEST(CifarTest, ParsesCifar10Records) {
  InMemoryDataset d;
  ASSERT_TRUE(ParseCifarBatch(test::MakeCifarRecords({3, 9}, {}), "b", CifarKind::kCifar10, &d).ok());
  ASSERT_TRUE(ParseCifarBatch(test::MakeCifarRecords({0}, {}), "c", CifarKind::kCifar10, &d).ok());
  EXPECT_EQ(d.num, 3);
  EXPECT_EQ(d.labels, (std::vector<int32_t>{3, 9, 0}));
  EXPECT_EQ(d.sample_shape(), Shape({3, 32, 32}));
  // Channel-major: byte k of record i is (i + k) % 251; the third record came from file "c".
  EXPECT_EQ(d.SamplePixels(1)[1024], (1 + 1024) % 251);
  EXPECT_EQ(d.SamplePixels(2)[5], 5);
}

TEST(CifarTest, ParsesCifar100FineAndCoarse) {
  const std::string bytes = test::MakeCifarRecords({19, 2}, {99, 42});
  InMemoryDataset fine, coarse;
  ASSERT_TRUE(ParseCifarBatch(bytes, "t", CifarKind::kCifar100Fine, &fine).ok());
  ASSERT_TRUE(ParseCifarBatch(bytes, "t", CifarKind::kCifar100Coarse, &coarse).ok());
  EXPECT_EQ(fine.labels, (std::vector<int32_t>{99, 42}));
  EXPECT_EQ(coarse.labels, (std::vector<int32_t>{19, 2}));
  EXPECT_EQ(fine.pixels, coarse.pixels);
}

TEST(CifarTest, RejectsTruncatedBatch) {
  std::string bytes = test::MakeCifarRecords({1, 2}, {});
  bytes.pop_back();
  InMemoryDataset d;
  const absl::Status s = ParseCifarBatch(bytes, "data_batch_1.bin", CifarKind::kCifar10, &d);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("data_batch_1.bin"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("not a multiple"));
  EXPECT_EQ(d.num, 0);
}

TEST(CifarTest, RejectsEmptyBatch) {
  InMemoryDataset d;
  const absl::Status s = ParseCifarBatch("", "empty.bin", CifarKind::kCifar10, &d);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("zero images"));
}

TEST(CifarTest, RejectsLabelOutOfRange) {
  InMemoryDataset d;
  const absl::Status s =
      ParseCifarBatch(test::MakeCifarRecords({1, 10}, {}), "x.bin", CifarKind::kCifar10, &d);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("label 10 of record 1"));
  EXPECT_EQ(d.num, 0);  // unchanged on error
  const absl::Status fine = ParseCifarBatch(test::MakeCifarRecords({1}, {100}), "y.bin",
                                            CifarKind::kCifar100Fine, &d);
  EXPECT_THAT(std::string(fine.message()), HasSubstr("label 100 of record 0"));
  const absl::Status coarse = ParseCifarBatch(test::MakeCifarRecords({20}, {1}), "z.bin",
                                              CifarKind::kCifar100Coarse, &d);
  EXPECT_THAT(std::string(coarse.message()), HasSubstr("label 20"));
}

TEST(CifarTest, LoadsCifar10DirectoryWithClassNames) {
  const std::string dir = test::TempDir("cifar10");
  for (int b = 1; b <= 5; ++b) {
    test::WriteFile(dir + "/data_batch_" + std::to_string(b) + ".bin",
                    test::MakeCifarRecords({static_cast<uint8_t>(b), 0}, {}));
  }
  test::WriteFile(dir + "/test_batch.bin", test::MakeCifarRecords({7}, {}));
  test::WriteFile(dir + "/batches.meta.txt",
                  "airplane\r\nautomobile\r\nbird\r\ncat\r\ndeer\r\ndog\r\nfrog\r\nhorse\r\n"
                  "ship\r\ntruck\r\n\r\n");
  auto train = LoadCifar(dir, CifarKind::kCifar10, Split::kTrain);
  ASSERT_TRUE(train.ok()) << train.status();
  EXPECT_EQ(train->num, 10);
  EXPECT_EQ(train->labels[2], 2);
  EXPECT_EQ(train->classes[9], "truck");  // CRLF stripped
  auto test_split = LoadCifar(dir, CifarKind::kCifar10, Split::kTest);
  ASSERT_TRUE(test_split.ok()) << test_split.status();
  EXPECT_EQ(test_split->labels, (std::vector<int32_t>{7}));
}

TEST(CifarTest, ReportsMissingBatchFile) {
  const std::string dir = test::TempDir("cifar10_missing");
  test::WriteFile(dir + "/data_batch_1.bin", test::MakeCifarRecords({1}, {}));
  auto r = LoadCifar(dir, CifarKind::kCifar10, Split::kTrain);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("data_batch_2.bin"));
}

TEST(CifarTest, RejectsClassNameFileWithWrongCount) {
  const std::string dir = test::TempDir("cifar100_names");
  test::WriteFile(dir + "/test.bin", test::MakeCifarRecords({1}, {5}));
  test::WriteFile(dir + "/coarse_label_names.txt", "a\nb\n");
  auto r = LoadCifar(dir, CifarKind::kCifar100Coarse, Split::kTest);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("coarse_label_names.txt"));
  auto fine = LoadCifar(dir, CifarKind::kCifar100Fine, Split::kTest);  // no names file: defaults
  ASSERT_TRUE(fine.ok()) << fine.status();
  EXPECT_EQ(fine->classes.size(), 100u);
  EXPECT_EQ(fine->classes[5], "class_5");
}

}  // namespace
}  // namespace simdnet
