// Tests for the safetensors writer and loader: round trips, the exact byte layout, and one
// test per rejection, each checking that the message names the tensor/field and the offset.
#include "train/safetensors.h"

#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace simdnet {
namespace {

std::string U64Le(uint64_t v) {
  std::string s;
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  return s;
}

// Returns a file made of `header` (JSON text) and `data`.
std::string MakeFile(const std::string& header, const std::string& data) {
  return U64Le(header.size()) + header + data;
}

std::string Floats(std::initializer_list<float> v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(&s[0], v.begin(), s.size());
  return s;
}

Tensor MakeTensor(const Shape& shape, float start) {
  Tensor t(shape);
  for (int64_t i = 0; i < t.size(); ++i) t[i] = start + 0.5f * static_cast<float>(i);
  return t;
}

SafetensorsContents SampleContents() {
  SafetensorsContents c;
  c.tensors.emplace("features.0.weight", MakeTensor(Shape({4, 3, 3, 3}), -2.0f));
  c.tensors.emplace("features.0.bias", MakeTensor(Shape({4}), 1.0f));
  c.tensors.emplace("classifier.weight", MakeTensor(Shape({10, 4}), 0.25f));
  IntTensor step;
  step.dims = {};
  step.values = {12345678901234LL};
  c.int_tensors.emplace("optimizer.step", step);
  IntTensor rng;
  rng.dtype = IntDType::kI32;
  rng.dims = {2, 2};
  rng.values = {1, -2, std::numeric_limits<int32_t>::max(), std::numeric_limits<int32_t>::min()};
  c.int_tensors.emplace("rng.state", rng);
  c.metadata["model_spec"] = "conv(4,3)-relu-linear(10)";
  c.metadata["class_names"] = "[\"zero\",\"one\"]";
  c.metadata["format"] = "pt";
  return c;
}

void ExpectError(const std::string& bytes, std::initializer_list<const char*> needles) {
  const auto r = ParseSafetensors(bytes, "test.safetensors");
  ASSERT_FALSE(r.ok()) << "accepted a bad file";
  EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(), "test.safetensors")) << r.status();
  for (const char* n : needles) {
    EXPECT_TRUE(absl::StrContains(r.status().message(), n))
        << "message lacks '" << n << "': " << r.status().message();
  }
}

TEST(SafetensorsTest, RoundTripsFloatIntAndMetadata) {
  const SafetensorsContents c = SampleContents();
  auto bytes = SerializeSafetensors(c);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  auto back = ParseSafetensors(*bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->tensors.size(), c.tensors.size());
  for (const auto& [name, t] : c.tensors) {
    const Tensor& u = back->tensors.at(name);
    EXPECT_EQ(u.shape(), t.shape()) << name;
    EXPECT_EQ(std::memcmp(u.data(), t.data(), t.size() * 4), 0) << name;
  }
  ASSERT_EQ(back->int_tensors.size(), 2u);
  EXPECT_EQ(back->int_tensors.at("optimizer.step").dtype, IntDType::kI64);
  EXPECT_TRUE(back->int_tensors.at("optimizer.step").dims.empty());
  EXPECT_EQ(back->int_tensors.at("optimizer.step").values, std::vector<int64_t>{12345678901234LL});
  EXPECT_EQ(back->int_tensors.at("rng.state").dtype, IntDType::kI32);
  EXPECT_EQ(back->int_tensors.at("rng.state").dims, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(back->int_tensors.at("rng.state").values, c.int_tensors.at("rng.state").values);
  EXPECT_EQ(back->metadata, c.metadata);
}

TEST(SafetensorsTest, GoldenBytesOfSmallFile) {
  SafetensorsContents c;
  c.tensors.emplace("w", Tensor::FromVector(Shape({2}), {1.0f, -2.0f}).value());
  c.metadata["k"] = "v";
  const std::string header =
      R"({"__metadata__":{"k":"v"},"w":{"data_offsets":[0,8],"dtype":"F32","shape":[2]}})";
  std::string padded = header;
  while (padded.size() % 8 != 0) padded.push_back(' ');
  EXPECT_EQ(*SerializeSafetensors(c), MakeFile(padded, Floats({1.0f, -2.0f})));
}

TEST(SafetensorsTest, SerializationIsDeterministicAndAligned) {
  const std::string a = *SerializeSafetensors(SampleContents());
  const std::string b = *SerializeSafetensors(SampleContents());
  EXPECT_EQ(a, b);
  uint64_t header_len = 0;
  std::memcpy(&header_len, a.data(), 8);
  EXPECT_EQ(header_len % 8, 0u);
  // The I64 tensor comes first in the data section (larger elements first).
  const std::string header = a.substr(8, header_len);
  EXPECT_TRUE(absl::StrContains(
      header, R"("optimizer.step":{"data_offsets":[0,8],"dtype":"I64","shape":[]})"))
      << header;
}

TEST(SafetensorsTest, SaveAndLoadFile) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string path = absl::StrCat(tmp ? tmp : "/tmp", "/model.safetensors");
  ASSERT_TRUE(SaveSafetensors(path, SampleContents()).ok());
  auto back = LoadSafetensors(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->tensors.size(), 3u);
  EXPECT_EQ(back->metadata.at("format"), "pt");
}

TEST(SafetensorsTest, LoadMissingFileNamesPath) {
  const auto r = LoadSafetensors("/nonexistent/ckpt.safetensors");
  EXPECT_TRUE(absl::IsNotFound(r.status())) << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(), "/nonexistent/ckpt.safetensors"));
}

TEST(SafetensorsTest, AcceptsEmptyFileWithNoTensors) {
  auto r = ParseSafetensors(MakeFile("{}", ""));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->tensors.empty());
  auto bytes = SerializeSafetensors(SafetensorsContents());
  ASSERT_TRUE(bytes.ok());
  EXPECT_TRUE(ParseSafetensors(*bytes).ok());
}

TEST(SafetensorsTest, AcceptsZeroSizeScalarAndUnorderedEntries) {
  const std::string header = R"({"b":{"dtype":"F32","shape":[],"data_offsets":[4,8]},)"
                             R"("empty":{"dtype":"F32","shape":[0,3],"data_offsets":[4,4]},)"
                             R"("a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}   )";
  auto r = ParseSafetensors(MakeFile(header, Floats({3.0f, 7.0f})));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->tensors.at("a")[0], 3.0f);
  EXPECT_EQ(r->tensors.at("b").rank(), 0);
  EXPECT_EQ(r->tensors.at("b")[0], 7.0f);
  EXPECT_EQ(r->tensors.at("empty").shape(), Shape({0, 3}));
}

// --- Writer rejections. ---

TEST(SafetensorsTest, WriterRejectsEmptyAndReservedNames) {
  SafetensorsContents c;
  c.tensors.emplace("", Tensor(Shape({1})));
  EXPECT_TRUE(absl::StrContains(SerializeSafetensors(c).status().message(), "empty tensor name"));
  SafetensorsContents d;
  d.tensors.emplace("__metadata__", Tensor(Shape({1})));
  EXPECT_TRUE(absl::StrContains(SerializeSafetensors(d).status().message(), "reserved"));
}

TEST(SafetensorsTest, WriterRejectsNameUsedTwice) {
  SafetensorsContents c;
  c.tensors.emplace("x", Tensor(Shape({1})));
  c.int_tensors.emplace("x", IntTensor{IntDType::kI64, {1}, {5}});
  const auto s = SerializeSafetensors(c).status();
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_TRUE(absl::StrContains(s.message(), "'x'")) << s;
}

TEST(SafetensorsTest, WriterRejectsIntTensorWithWrongValueCount) {
  SafetensorsContents c;
  c.int_tensors.emplace("counts", IntTensor{IntDType::kI64, {2, 3}, {1, 2, 3}});
  const auto s = SerializeSafetensors(c).status();
  EXPECT_TRUE(absl::StrContains(s.message(), "'counts'")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "3 values")) << s;
}

TEST(SafetensorsTest, WriterRejectsI32Overflow) {
  SafetensorsContents c;
  c.int_tensors.emplace("s", IntTensor{IntDType::kI32, {2}, {0, int64_t{1} << 31}});
  const auto s = SerializeSafetensors(c).status();
  EXPECT_TRUE(absl::StrContains(s.message(), "value [1]")) << s;
}

TEST(SafetensorsTest, WriterRejectsInvalidUtf8) {
  SafetensorsContents c;
  c.metadata["k"] = "\xff\xfe";
  const auto s = SerializeSafetensors(c).status();
  EXPECT_TRUE(absl::StrContains(s.message(), "UTF-8")) << s;
  SafetensorsContents d;
  d.tensors.emplace("bad\xc0\x80", Tensor(Shape({1})));
  EXPECT_FALSE(SerializeSafetensors(d).ok());
  SafetensorsContents e;
  e.metadata["caf\xc3\xa9"] = "\xe2\x82\xac";  // Valid two- and three-byte sequences.
  auto ok = SerializeSafetensors(e);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ParseSafetensors(*ok)->metadata.at("caf\xc3\xa9"), "\xe2\x82\xac");
}

// --- Loader rejections: framing. ---

TEST(SafetensorsTest, RejectsFileShorterThanLengthField) {
  ExpectError("", {"0 bytes", "byte offset 0"});
  ExpectError(std::string("\x05\x00\x00", 3), {"3 bytes"});
}

TEST(SafetensorsTest, RejectsHeaderLengthAboveLimit) {
  ExpectError(U64Le(kMaxSafetensorsHeaderBytes + 1) + "{}", {"100000001", "limit"});
  ExpectError(U64Le(~uint64_t{0}) + "{}", {"limit"});
}

TEST(SafetensorsTest, RejectsHeaderLengthBeyondFile) {
  ExpectError(U64Le(100) + "{}", {"header length 100", "2 bytes after", "truncated"});
}

TEST(SafetensorsTest, RejectsHeaderNotStartingWithBrace) {
  ExpectError(MakeFile("[1,2]", ""), {"byte offset 8", "'{'"});
  ExpectError(MakeFile(" {}", ""), {"'{'"});
}

TEST(SafetensorsTest, RejectsInvalidJsonWithPosition) {
  ExpectError(MakeFile(R"({"a":{"dtype":"F32",,}})", ""), {"invalid JSON", "header byte 21"});
  ExpectError(MakeFile("{\"a\xff\":1}", ""), {"invalid JSON"});
  ExpectError(MakeFile("{} x", ""), {"invalid JSON"});
}

TEST(SafetensorsTest, RejectsDuplicateKeys) {
  const std::string e = R"({"dtype":"F32","shape":[0],"data_offsets":[0,0]})";
  ExpectError(MakeFile(absl::StrCat(R"({"w":)", e, R"(,"w":)", e, "}"), ""),
              {"duplicate key \"w\""});
  ExpectError(
      MakeFile(R"({"w":{"dtype":"F32","dtype":"F32","shape":[0],"data_offsets":[0,0]}})", ""),
      {"duplicate key \"dtype\""});
}

TEST(SafetensorsTest, RejectsDeepNesting) {
  ExpectError(MakeFile(R"({"w":{"shape":[[1]]}})", ""), {"nesting deeper than 3"});
  ExpectError(MakeFile("{\"w\":" + std::string(100000, '[') + std::string(100000, ']') + "}", ""),
              {"nesting"});
}

// --- Loader rejections: tensor entries. ---

TEST(SafetensorsTest, RejectsUnknownAndUnsupportedDtype) {
  ExpectError(MakeFile(R"({"w":{"dtype":"Q7","shape":[1],"data_offsets":[0,4]}})", "abcd"),
              {"tensor 'w'", "unknown dtype \"Q7\""});
  ExpectError(MakeFile(R"({"w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})", "abcd"),
              {"tensor 'w'", "unsupported dtype \"F16\"", "F32, I32, I64"});
  ExpectError(MakeFile(R"({"w":{"dtype":32,"shape":[1],"data_offsets":[0,4]}})", "abcd"),
              {"\"dtype\" must be a string"});
}

TEST(SafetensorsTest, RejectsMissingAndExtraFields) {
  ExpectError(MakeFile(R"({"w":{"shape":[1],"data_offsets":[0,4]}})", "abcd"),
              {"tensor 'w'", "missing field \"dtype\""});
  ExpectError(MakeFile(R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", "abcd"),
              {"missing field \"shape\""});
  ExpectError(MakeFile(R"({"w":{"dtype":"F32","shape":[1]}})", "abcd"),
              {"missing field \"data_offsets\""});
  ExpectError(MakeFile(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}})", "abcd"),
              {"unknown field \"x\""});
  ExpectError(MakeFile(R"({"w":[1,2]})", ""), {"tensor 'w'", "must be an object"});
}

TEST(SafetensorsTest, RejectsEmptyName) {
  ExpectError(MakeFile(R"({"":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", "abcd"),
              {"empty tensor name"});
}

TEST(SafetensorsTest, RejectsBadShapeDims) {
  ExpectError(MakeFile(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", "abcd"),
              {"tensor 'w'", "\"shape\"[0]", "non-negative integer", "-1"});
  ExpectError(MakeFile(R"({"w":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}})", "abcd"),
              {"\"shape\"[0]"});
  ExpectError(MakeFile(R"({"w":{"dtype":"F32","shape":"1","data_offsets":[0,4]}})", "abcd"),
              {"\"shape\" must be an array"});
  ExpectError(
      MakeFile(R"({"w":{"dtype":"F32","shape":[1,1,1,1,1,1],"data_offsets":[0,4]}})", "abcd"),
      {"rank 6"});
}

TEST(SafetensorsTest, RejectsShapeWhoseByteSizeOverflows) {
  ExpectError(MakeFile(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],)"
                       R"("data_offsets":[0,4]}})",
                       "abcd"),
              {"tensor 'w'", "overflow"});
  ExpectError(MakeFile(R"({"w":{"dtype":"I64","shape":[4611686018427387904],)"
                       R"("data_offsets":[0,4]}})",
                       "abcd"),
              {"tensor 'w'", "overflow"});
  ExpectError(MakeFile(R"({"w":{"dtype":"F32","shape":[18446744073709551615],)"
                       R"("data_offsets":[0,4]}})",
                       "abcd"),
              {"tensor 'w'", "overflow"});
}

TEST(SafetensorsTest, RejectsMalformedOffsets) {
  ExpectError(MakeFile(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", "abcd"),
              {"tensor 'w'", "[begin, end]"});
  ExpectError(MakeFile(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,-4]}})", "abcd"),
              {"[begin, end]"});
  ExpectError(MakeFile(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}})", "abcd"),
              {"begin > end"});
}

TEST(SafetensorsTest, RejectsOffsetsBeyondData) {
  // Header is 54 bytes, so the data section starts at file byte 62.
  const std::string h = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  ASSERT_EQ(h.size(), 54u);
  ExpectError(MakeFile(h, "abcd"), {"tensor 'w'", "file bytes 62..70", "4-byte data section"});
}

TEST(SafetensorsTest, RejectsSizeMismatch) {
  ExpectError(MakeFile(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", "abcdefgh"),
              {"tensor 'w'", "span 8 bytes", "needs 12"});
  ExpectError(MakeFile(R"({"w":{"dtype":"I64","shape":[1],"data_offsets":[0,4]}})", "abcd"),
              {"needs 8"});
}

TEST(SafetensorsTest, RejectsOverlappingTensors) {
  ExpectError(MakeFile(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                       R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                       "abcdefgh"),
              {"tensor 'b'", "overlaps"});
}

TEST(SafetensorsTest, RejectsGapBetweenTensors) {
  ExpectError(MakeFile(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                       R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                       "abcdefghijkl"),
              {"tensor 'b'", "gap of 4"});
}

TEST(SafetensorsTest, RejectsUncoveredTrailingBytes) {
  ExpectError(MakeFile(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", "abcdXY"),
              {"2 trailing bytes", "not covered"});
}

TEST(SafetensorsTest, RejectsTruncatedValidFile) {
  const std::string good = *SerializeSafetensors(SampleContents());
  ExpectError(good.substr(0, good.size() - 1), {"data section"});
  ExpectError(good.substr(0, 20), {"header length"});
}

// --- Loader rejections: metadata. ---

TEST(SafetensorsTest, RejectsMetadataNotObject) {
  ExpectError(MakeFile(R"({"__metadata__":["a"]})", ""), {"__metadata__", "object of strings"});
}

TEST(SafetensorsTest, RejectsNonStringMetadataValue) {
  ExpectError(MakeFile(R"({"__metadata__":{"epoch":3}})", ""),
              {"__metadata__", "'epoch'", "must be a string", "number"});
}

}  // namespace
}  // namespace simdnet
