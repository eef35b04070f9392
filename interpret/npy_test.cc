// Tests of interpret/npy: round trips of float32 / int32 / int64 arrays, files numpy wrote, and
// every rejection naming the path and the problem.
#include "interpret/npy.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tensor/atomic_file.h"

namespace simdnet {
namespace {

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
}

TEST(NpyTest, Float32RoundTrip2D) {
  const std::string path = TempPath("f.npy");
  std::vector<float> data = {1.5f, -2.0f, 3.25f, 0.0f, 1e-30f, 7.0f};
  const int64_t shape[2] = {3, 2};
  ASSERT_TRUE(WriteNpyFloat32(path, data, shape).ok());
  absl::StatusOr<NpyFloatArray> back = ReadNpyFloat32(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->shape, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(back->data, data);
  // The header is a v1.0 header padded so the data starts at a multiple of 64 bytes.
  absl::StatusOr<std::string> bytes = ReadFile(path);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(bytes->substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_EQ((bytes->size() - data.size() * 4) % 64, 0u);
  EXPECT_NE(bytes->find("'shape': (3, 2)"), std::string::npos);
}

TEST(NpyTest, Float32RoundTrip1DAndEmpty) {
  const std::string path = TempPath("f1.npy");
  std::vector<float> data = {4.0f};
  const int64_t shape[1] = {1};
  ASSERT_TRUE(WriteNpyFloat32(path, data, shape).ok());
  absl::StatusOr<NpyFloatArray> back = ReadNpyFloat32(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->shape, (std::vector<int64_t>{1}));
  EXPECT_EQ(back->data, data);
  const int64_t empty[2] = {0, 5};
  ASSERT_TRUE(WriteNpyFloat32(path, {}, empty).ok());
  back = ReadNpyFloat32(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->shape, (std::vector<int64_t>{0, 5}));
}

TEST(NpyTest, LabelsRoundTripInt32AndInt64) {
  const std::string path = TempPath("l.npy");
  std::vector<int32_t> l32 = {0, 9, -3, 2147483647};
  ASSERT_TRUE(WriteNpyInt32(path, l32).ok());
  absl::StatusOr<std::vector<int64_t>> back = ReadNpyLabels(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, (std::vector<int64_t>{0, 9, -3, 2147483647}));
  std::vector<int64_t> l64 = {int64_t{1} << 40, -1, 5};
  ASSERT_TRUE(WriteNpyInt64(path, l64).ok());
  back = ReadNpyLabels(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, l64);
}

TEST(NpyTest, ReadsNumpyWrittenHeader) {
  // Bytes as numpy 1.24 writes np.arange(3, dtype='<i8') (header padded to 128 bytes).
  std::string header = "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }";
  header.append(128 - 10 - header.size() - 1, ' ');
  header += "\n";
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
  bytes.push_back(static_cast<char>(header.size()));
  bytes.push_back('\0');
  bytes += header;
  for (int64_t v = 0; v < 3; ++v) bytes.append(reinterpret_cast<const char*>(&v), 8);
  const std::string path = TempPath("numpy.npy");
  ASSERT_TRUE(WriteFileAtomically(path, bytes).ok());
  absl::StatusOr<std::vector<int64_t>> back = ReadNpyLabels(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, (std::vector<int64_t>{0, 1, 2}));
}

// Writes `bytes` to a file and expects ReadNpyFloat32 (or ReadNpyLabels) to fail with a message
// naming the path and containing `needle`.
void ExpectRejected(const std::string& bytes, const std::string& needle, bool labels = false) {
  const std::string path = TempPath("bad.npy");
  ASSERT_TRUE(WriteFileAtomically(path, bytes).ok());
  absl::Status status = labels ? ReadNpyLabels(path).status() : ReadNpyFloat32(path).status();
  ASSERT_FALSE(status.ok()) << needle;
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_NE(status.message().find(path), std::string::npos) << status;
  EXPECT_NE(status.message().find(needle), std::string::npos)
      << "message \"" << status.message() << "\" lacks \"" << needle << "\"";
}

std::string File(const std::string& descr, const std::string& order, const std::string& shape,
                 size_t payload_bytes) {
  const int64_t dummy_shape[1] = {0};
  std::string f = detail::FormatNpy(descr, dummy_shape, std::string(payload_bytes, '\0'));
  const std::string from = "'fortran_order': False, 'shape': (0,)";
  const std::string to = "'fortran_order': " + order + ", 'shape': " + shape;
  f.replace(f.find(from), from.size(), to);
  // Keep the header length field consistent (the replacement may change its size).
  const size_t header_len = f.size() - 10 - payload_bytes;
  f[8] = static_cast<char>(header_len & 0xff);
  f[9] = static_cast<char>(header_len >> 8);
  return f;
}

TEST(NpyTest, RejectsBadMagic) {
  ExpectRejected("PK\x03\x04 not numpy", "bad magic");
  ExpectRejected("", "bad magic");
}

TEST(NpyTest, RejectsUnsupportedVersion) {
  std::string f = File("<f4", "False", "(1,)", 4);
  f[6] = 9;
  ExpectRejected(f, "unsupported .npy format version 9");
}

TEST(NpyTest, RejectsTruncatedHeader) {
  const std::string f = File("<f4", "False", "(1,)", 4);
  ExpectRejected(f.substr(0, 30), "truncated .npy header");
  ExpectRejected(f.substr(0, 8), "truncated .npy header");
}

TEST(NpyTest, RejectsUnsupportedDtype) {
  ExpectRejected(File("<f8", "False", "(2,)", 16), "unsupported dtype '<f8'");
  ExpectRejected(File(">f4", "False", "(2,)", 8), "unsupported dtype '>f4'");
  ExpectRejected(File("<i4", "False", "(2,)", 8), "unsupported dtype '<i4' (expected '<f4')");
  ExpectRejected(File("<f4", "False", "(2,)", 8), "unsupported dtype '<f4' for labels",
                 /*labels=*/true);
}

TEST(NpyTest, RejectsFortranOrder) {
  ExpectRejected(File("<f4", "True", "(2, 2)", 16), "fortran_order True");
}

TEST(NpyTest, RejectsTruncatedData) {
  ExpectRejected(File("<f4", "False", "(3, 2)", 20), "truncated data");
}

TEST(NpyTest, RejectsShapeMismatch) {
  ExpectRejected(File("<f4", "False", "(3,)", 16), "trailing bytes");
  ExpectRejected(File("<f4", "False", "(1, 2, 2)", 16), "expected a 1-D or 2-D array, got rank 3");
  ExpectRejected(File("<i8", "False", "(2, 1)", 16), "labels must be 1-D", /*labels=*/true);
}

TEST(NpyTest, RejectsMalformedHeader) {
  ExpectRejected(File("<f4", "False", "(x,)", 4), "malformed .npy header: shape");
  ExpectRejected(File("<f4", "Maybe", "(1,)", 4), "malformed .npy header: fortran_order");
  std::string f = File("<f4", "False", "(1,)", 4);
  f.replace(f.find("'descr'"), 7, "'dtype'");
  ExpectRejected(f, "no 'descr' key");
}

TEST(NpyTest, ReportsMissingFile) {
  absl::StatusOr<NpyFloatArray> r = ReadNpyFloat32(TempPath("does_not_exist.npy"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("does_not_exist.npy"), std::string::npos);
}

TEST(NpyTest, WriteRejectsShapeMismatch) {
  const std::string path = TempPath("w.npy");
  std::vector<float> data(5);
  const int64_t shape[2] = {2, 3};
  absl::Status s = WriteNpyFloat32(path, data, shape);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("shape mismatch"), std::string::npos) << s;
  const int64_t rank3[3] = {1, 1, 5};
  s = WriteNpyFloat32(path, data, rank3);
  EXPECT_NE(s.message().find("1 or 2 entries"), std::string::npos) << s;
}

}  // namespace
}  // namespace simdnet
