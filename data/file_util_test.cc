// Tests for bounded reads, capped gzip decompression and atomic writes.
#include "data/file_util.h"

#include <string>

#include "data/test_fixtures.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tensor/atomic_file.h"

namespace simdnet {
namespace {

using ::testing::HasSubstr;

TEST(FileUtilTest, GunzipRoundTrip) {
  std::string data(100000, 'x');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 % 253);
  const std::string gz = test::Gzip(data);
  ASSERT_TRUE(IsGzip(gz));
  auto out = GunzipBytes(gz, "mem");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, data);
}

TEST(FileUtilTest, GunzipConcatenatedMembers) {
  const std::string gz = test::Gzip("hello ") + test::Gzip("world");
  auto out = GunzipBytes(gz, "mem");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "hello world");
}

TEST(FileUtilTest, GunzipRejectsStreamThatEndsEarly) {
  std::string data(50000, 'a');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * i) % 256);
  const std::string gz = test::Gzip(data);
  for (size_t cut : {size_t{10}, gz.size() / 2, gz.size() - 4, gz.size() - 1}) {
    auto out = GunzipBytes(gz.substr(0, cut), "train.gz");
    ASSERT_FALSE(out.ok()) << "cut " << cut;
    EXPECT_EQ(out.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(std::string(out.status().message()), HasSubstr("train.gz"));
  }
  auto out = GunzipBytes(gz.substr(0, gz.size() / 2), "train.gz");
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("ends early"));
}

TEST(FileUtilTest, GunzipRejectsCorruptStream) {
  std::string gz = test::Gzip(std::string(1000, 'q'));
  gz[12] ^= 0x55;
  gz[13] ^= 0x55;
  auto out = GunzipBytes(gz, "bad.gz");
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("bad.gz"));
}

TEST(FileUtilTest, GunzipEnforcesOutputCap) {
  const std::string gz = test::Gzip(std::string(1 << 20, '\0'));  // 1 MiB of zeros, ~1 KB gz
  auto out = GunzipBytes(gz, "bomb.gz", 1000);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("bomb.gz"));
}

TEST(FileUtilTest, ReadMaybeGzipUsesTheOneReaderCapAndErrors) {
  auto missing = ReadMaybeGzipFile("/nonexistent/dir/file.bin");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("/nonexistent/dir/file.bin"));
  const std::string dir = test::TempDir("file_util_cap");
  test::WriteFile(dir + "/big", std::string(5000, 'z'));
  auto out = ReadMaybeGzipFile(dir + "/big", 4999);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(ReadMaybeGzipFile(dir + "/big", 5000).ok());
}

TEST(FileUtilTest, ReadMaybeGzipDetectsByContent) {
  const std::string dir = test::TempDir("file_util_gz");
  test::WriteFile(dir + "/plain.gz", "not compressed");
  test::WriteFile(dir + "/packed", test::Gzip("compressed"));
  EXPECT_EQ(*ReadMaybeGzipFile(dir + "/plain.gz"), "not compressed");
  EXPECT_EQ(*ReadMaybeGzipFile(dir + "/packed"), "compressed");
}

TEST(FileUtilTest, WriteFileAtomicallyReplacesContents) {
  const std::string dir = test::TempDir("file_util_atomic");
  const std::string path = dir + "/out.bin";
  ASSERT_TRUE(WriteFileAtomically(path, "first").ok());
  ASSERT_TRUE(WriteFileAtomically(path, "second, longer").ok());
  EXPECT_EQ(*ReadFile(path), "second, longer");
  const absl::Status bad = WriteFileAtomically("/nonexistent/dir/x.png", "data");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.message()), HasSubstr("/nonexistent/dir/x.png"));
}

}  // namespace
}  // namespace simdnet
