// Tests for CSV formatting and CsvLog: header, quoting, per-row visibility, append/resume.
#include "train/csv_log.h"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace simdnet {
namespace {

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir ? dir : "/tmp", "/", name);
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void Spit(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

TEST(CsvFormatTest, FormatsNumbersAndQuotesText) {
  EXPECT_EQ(FormatCsvCell(int64_t{-42}), "-42");
  EXPECT_EQ(FormatCsvCell(0.1), "0.1");
  EXPECT_EQ(FormatCsvCell(1.0 / 3.0), "0.333333333");
  EXPECT_EQ(FormatCsvCell(1e-20), "1e-20");
  EXPECT_EQ(FormatCsvCell(std::numeric_limits<double>::quiet_NaN()), "nan");
  EXPECT_EQ(FormatCsvCell(-std::numeric_limits<double>::infinity()), "-inf");
  EXPECT_EQ(FormatCsvCell(std::string("plain")), "plain");
  EXPECT_EQ(FormatCsvCell(std::string("a,b")), "\"a,b\"");
  EXPECT_EQ(FormatCsvCell(std::string("say \"hi\"")), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(FormatCsvCell(std::string("two\nlines")), "\"two\nlines\"");
  EXPECT_EQ(FormatCsvRow({int64_t{1}, 2.5, std::string("x")}), "1,2.5,x\n");
}

TEST(CsvFormatTest, FloatValuesRoundTrip) {
  const float f = 0.123456789f;
  EXPECT_EQ(std::strtof(FormatCsvCell(static_cast<double>(f)).c_str(), nullptr), f);
}

TEST(CsvLogTest, WritesHeaderAndRowsVisibleImmediately) {
  const std::string path = TempPath("metrics.csv");
  auto log = CsvLog::Open(path, EpochCsvColumns());
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ(Slurp(path),
            "epoch,train_loss,train_accuracy,test_loss,test_accuracy,learning_rate,"
            "epoch_seconds,images_per_second\n");
  EpochRecord r;
  r.epoch = 1;
  r.train_loss = 0.5;
  r.train_accuracy = 0.75;
  r.test_loss = std::numeric_limits<double>::quiet_NaN();
  r.test_accuracy = 0.8;
  r.learning_rate = 0.01;
  r.epoch_seconds = 12.5;
  r.images_per_second = 4800;
  ASSERT_TRUE((*log)->Append(EpochCsvRow(r)).ok());
  // Visible before Close (no user-space buffering).
  EXPECT_TRUE(absl::EndsWith(Slurp(path), "\n1,0.5,0.75,nan,0.8,0.01,12.5,4800\n"));
  EXPECT_EQ((*log)->rows_appended(), 1);
  ASSERT_TRUE((*log)->Close().ok());
  EXPECT_TRUE(absl::IsFailedPrecondition((*log)->Append(EpochCsvRow(r))));
}

TEST(CsvLogTest, IterationLogColumnsMatchRow) {
  IterationRecord r;
  r.step = 7;
  r.epoch = 1;
  r.batch = 7;
  r.loss = 2.25;
  EXPECT_EQ(IterationCsvRow(r).size(), IterationCsvColumns().size());
  EXPECT_EQ(EpochCsvRow(EpochRecord()).size(), EpochCsvColumns().size());
  const std::string path = TempPath("iter.csv");
  auto log = CsvLog::Open(path, IterationCsvColumns());
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->Append(IterationCsvRow(r)).ok());
  EXPECT_TRUE(absl::EndsWith(Slurp(path), "\n7,1,7,2.25,0,0,0,0\n")) << Slurp(path);
}

TEST(CsvLogTest, TruncateModeReplacesOldFile) {
  const std::string path = TempPath("trunc.csv");
  Spit(path, "old,stuff\n1,2\n");
  auto log = CsvLog::Open(path, {"a"}, CsvLog::Mode::kTruncate);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(Slurp(path), "a\n");
}

TEST(CsvLogTest, AppendModeKeepsRowsAndCutsPartialRow) {
  const std::string path = TempPath("append.csv");
  Spit(path, "a,b\n1,2\n3,");  // A crash left "3," behind.
  auto log = CsvLog::Open(path, {"a", "b"}, CsvLog::Mode::kAppend);
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_TRUE((*log)->Append({int64_t{5}, int64_t{6}}).ok());
  EXPECT_EQ(Slurp(path), "a,b\n1,2\n5,6\n");
}

TEST(CsvLogTest, AppendModeWritesHeaderForMissingEmptyOrPartialHeaderFile) {
  const std::string path = TempPath("fresh_append.csv");
  std::remove(path.c_str());
  ASSERT_TRUE(CsvLog::Open(path, {"x", "y"}, CsvLog::Mode::kAppend).ok());
  EXPECT_EQ(Slurp(path), "x,y\n");
  Spit(path, "x,");
  ASSERT_TRUE(CsvLog::Open(path, {"x", "y"}, CsvLog::Mode::kAppend).ok());
  EXPECT_EQ(Slurp(path), "x,y\n");
}

TEST(CsvLogTest, AppendModeDropsRowsAfterResumePoint) {
  const std::string path = TempPath("resume.csv");
  // Epochs 1-3 were logged, but the run resumes from the checkpoint of epoch 2.
  Spit(path, "epoch,loss\n1,0.9\n2,0.8\n3,0.7\n4,0.");
  auto log = CsvLog::Open(path, {"epoch", "loss"}, CsvLog::Mode::kAppend, 2);
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_TRUE((*log)->Append({int64_t{3}, 0.65}).ok());
  EXPECT_EQ(Slurp(path), "epoch,loss\n1,0.9\n2,0.8\n3,0.65\n");
  // Resuming from 0 keeps only the header; resuming past the end keeps everything.
  ASSERT_TRUE(CsvLog::Open(path, {"epoch", "loss"}, CsvLog::Mode::kAppend, 5).ok());
  EXPECT_EQ(Slurp(path), "epoch,loss\n1,0.9\n2,0.8\n3,0.65\n");
  ASSERT_TRUE(CsvLog::Open(path, {"epoch", "loss"}, CsvLog::Mode::kAppend, 0).ok());
  EXPECT_EQ(Slurp(path), "epoch,loss\n");
}

TEST(CsvLogTest, AppendModeRejectsNonIntegerKeyWhenCutting) {
  const std::string path = TempPath("badkey.csv");
  Spit(path, "epoch,loss\n1,0.9\nx,0.8\n");
  auto log = CsvLog::Open(path, {"epoch", "loss"}, CsvLog::Mode::kAppend, 1);
  ASSERT_FALSE(log.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(log.status())) << log.status();
  EXPECT_TRUE(absl::StrContains(log.status().message(), "line 3 starts with 'x'")) << log.status();
  EXPECT_EQ(Slurp(path), "epoch,loss\n1,0.9\nx,0.8\n");                            // Untouched.
  EXPECT_TRUE(CsvLog::Open(path, {"epoch", "loss"}, CsvLog::Mode::kAppend).ok());  // No cut.
}

TEST(CsvLogTest, AppendModeRejectsDifferentHeader) {
  const std::string path = TempPath("other.csv");
  Spit(path, "epoch,loss\n1,2\n");
  auto log = CsvLog::Open(path, {"epoch", "accuracy"}, CsvLog::Mode::kAppend);
  ASSERT_FALSE(log.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(log.status()));
  EXPECT_TRUE(absl::StrContains(log.status().message(), path));
  EXPECT_TRUE(absl::StrContains(log.status().message(), "'epoch,loss'")) << log.status();
  EXPECT_TRUE(absl::StrContains(log.status().message(), "'epoch,accuracy'")) << log.status();
  EXPECT_EQ(Slurp(path), "epoch,loss\n1,2\n");  // Untouched.
}

TEST(CsvLogTest, RejectsWrongCellCount) {
  auto log = CsvLog::Open(TempPath("count.csv"), {"a", "b", "c"});
  ASSERT_TRUE(log.ok());
  const absl::Status s = (*log)->Append({int64_t{1}});
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_TRUE(absl::StrContains(s.message(), "1 cells, expected 3 (a,b,c)")) << s;
}

TEST(CsvLogTest, RejectsBadColumns) {
  EXPECT_TRUE(absl::IsInvalidArgument(CsvLog::Open(TempPath("c1.csv"), {}).status()));
  EXPECT_TRUE(absl::StrContains(CsvLog::Open(TempPath("c2.csv"), {"a", "a"}).status().message(),
                                "duplicate column name 'a'"));
  EXPECT_TRUE(absl::StrContains(CsvLog::Open(TempPath("c3.csv"), {"a", ""}).status().message(),
                                "empty column name"));
}

TEST(CsvLogTest, RejectsUnwritablePath) {
  const auto log = CsvLog::Open("/nonexistent_dir/metrics.csv", {"a"});
  EXPECT_TRUE(absl::IsNotFound(log.status())) << log.status();
  EXPECT_TRUE(absl::StrContains(log.status().message(), "/nonexistent_dir/metrics.csv"));
}

}  // namespace
}  // namespace simdnet
