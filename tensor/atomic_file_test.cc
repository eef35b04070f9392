// Tests for WriteFileAtomically / ReadFile: round trips, overwrite, error messages, and that an
// interrupted write leaves the old file intact and no temp file behind.
#include "tensor/atomic_file.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace simdnet {
namespace {

std::string TestDir() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

// Returns a fresh empty directory for one test.
std::string FreshDir(const std::string& name) {
  const std::string dir = absl::StrCat(TestDir(), "/atomic_", name);
  ::mkdir(dir.c_str(), 0755);
  return dir;
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* e = ::readdir(d)) {
    const std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  return names;
}

class AtomicFileTest : public ::testing::Test {
 protected:
  void TearDown() override {
    detail::SetAtomicWriteFaultForTesting(detail::AtomicWriteFault::kNone);
  }
};

TEST_F(AtomicFileTest, RoundTripsBinaryBytes) {
  const std::string dir = FreshDir("roundtrip");
  const std::string path = dir + "/a.bin";
  std::string bytes;
  for (int i = 0; i < 100000; ++i) bytes.push_back(static_cast<char>(i * 7 + (i >> 8)));
  ASSERT_TRUE(WriteFileAtomically(path, bytes).ok());
  auto read = ReadFile(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, bytes);
  EXPECT_EQ(ListDir(dir), std::vector<std::string>{"a.bin"});
}

TEST_F(AtomicFileTest, WritesEmptyFile) {
  const std::string path = FreshDir("empty") + "/e";
  ASSERT_TRUE(WriteFileAtomically(path, "").ok());
  auto read = ReadFile(path);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, "");
}

TEST_F(AtomicFileTest, OverwritesExistingFile) {
  const std::string path = FreshDir("overwrite") + "/f.txt";
  ASSERT_TRUE(WriteFileAtomically(path, "a much longer old content").ok());
  ASSERT_TRUE(WriteFileAtomically(path, "new").ok());
  EXPECT_EQ(*ReadFile(path), "new");
}

TEST_F(AtomicFileTest, PartialWriteKeepsOldFileAndRemovesTemp) {
  const std::string dir = FreshDir("partial");
  const std::string path = dir + "/ckpt";
  ASSERT_TRUE(WriteFileAtomically(path, "old good content").ok());
  detail::SetAtomicWriteFaultForTesting(detail::AtomicWriteFault::kAfterPartialWrite);
  const absl::Status s = WriteFileAtomically(path, std::string(10000, 'x'));
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(absl::StrContains(s.message(), "partial write")) << s;
  EXPECT_EQ(*ReadFile(path), "old good content");
  EXPECT_EQ(ListDir(dir), std::vector<std::string>{"ckpt"});
}

TEST_F(AtomicFileTest, FailureBeforeRenameKeepsOldFileAndRemovesTemp) {
  const std::string dir = FreshDir("before_rename");
  const std::string path = dir + "/ckpt";
  ASSERT_TRUE(WriteFileAtomically(path, "old").ok());
  detail::SetAtomicWriteFaultForTesting(detail::AtomicWriteFault::kBeforeRename);
  EXPECT_FALSE(WriteFileAtomically(path, "new content").ok());
  EXPECT_EQ(*ReadFile(path), "old");
  EXPECT_EQ(ListDir(dir), std::vector<std::string>{"ckpt"});
}

TEST_F(AtomicFileTest, FaultCanTargetOnePathSuffix) {
  const std::string dir = FreshDir("fault_suffix");
  detail::SetAtomicWriteFaultForTesting(detail::AtomicWriteFault::kBeforeRename, "best.bin");
  EXPECT_TRUE(WriteFileAtomically(dir + "/checkpoint.bin", "a").ok());
  EXPECT_FALSE(WriteFileAtomically(dir + "/best.bin", "b").ok());
  EXPECT_EQ(ListDir(dir), std::vector<std::string>{"checkpoint.bin"});
}

TEST_F(AtomicFileTest, RemoveStaleTempFilesRemovesOnlyOurPattern) {
  const std::string dir = FreshDir("stale");
  for (const char* name : {"checkpoint.safetensors.tmp.123.4", "best.safetensors.tmp.9.0",
                           "keep.tmp", "keep.tmp.1", "keep.tmp.1.x", ".tmp.1.2",
                           "checkpoint.safetensors"}) {
    ASSERT_TRUE(WriteFileAtomically(absl::StrCat(dir, "/", name), "x").ok()) << name;
  }
  auto removed = RemoveStaleTempFiles(dir);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 2);
  std::vector<std::string> left = ListDir(dir);
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{".tmp.1.2", "checkpoint.safetensors", "keep.tmp",
                                            "keep.tmp.1", "keep.tmp.1.x"}));
  auto missing = RemoveStaleTempFiles(dir + "/nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(std::string(missing.status().message()).find("nope"), std::string::npos);
}

TEST_F(AtomicFileTest, RejectsMissingDirectoryNamingPath) {
  const std::string path = TestDir() + "/no/such/dir/file";
  const absl::Status s = WriteFileAtomically(path, "x");
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "/no/such/dir/file")) << s;
}

TEST_F(AtomicFileTest, RejectsDirectoryAsTarget) {
  const std::string dir = FreshDir("dir_target");
  const absl::Status s = WriteFileAtomically(dir, "x");
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "is a directory")) << s;
}

TEST_F(AtomicFileTest, RejectsEmptyPath) {
  EXPECT_TRUE(absl::IsInvalidArgument(WriteFileAtomically("", "x")));
  EXPECT_TRUE(absl::IsInvalidArgument(ReadFile("").status()));
}

TEST_F(AtomicFileTest, ReadMissingFileIsNotFoundNamingPath) {
  const auto r = ReadFile(TestDir() + "/definitely_missing.bin");
  EXPECT_TRUE(absl::IsNotFound(r.status())) << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(), "definitely_missing.bin"));
}

TEST_F(AtomicFileTest, ReadRejectsDirectory) {
  const auto r = ReadFile(FreshDir("read_dir"));
  EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(), "not a regular file"));
}

TEST_F(AtomicFileTest, ReadRejectsFileLargerThanLimit) {
  const std::string path = FreshDir("limit") + "/big";
  ASSERT_TRUE(WriteFileAtomically(path, std::string(1000, 'a')).ok());
  const auto r = ReadFile(path, 999);
  EXPECT_TRUE(absl::IsResourceExhausted(r.status())) << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(), "1000 bytes")) << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(), "999")) << r.status();
  const auto ok = ReadFile(path, 1000);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->size(), 1000u);
}

TEST_F(AtomicFileTest, RelativePathInCurrentDirectory) {
  const std::string dir = FreshDir("relative");
  char old_cwd[4096];
  ASSERT_NE(::getcwd(old_cwd, sizeof(old_cwd)), nullptr);
  ASSERT_EQ(::chdir(dir.c_str()), 0);
  const absl::Status s = WriteFileAtomically("rel.txt", "hello");
  ASSERT_EQ(::chdir(old_cwd), 0);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(*ReadFile(dir + "/rel.txt"), "hello");
}

// Kills a child process that rewrites the same file in a loop at varying moments; the file
// must always hold one complete version, never a mix or a prefix.
TEST_F(AtomicFileTest, SigkillDuringRewritesNeverLeavesPartialFile) {
  const std::string dir = FreshDir("sigkill");
  const std::string path = dir + "/state.bin";
  const std::string a(256 * 1024, 'a'), b(256 * 1024, 'b');
  ASSERT_TRUE(WriteFileAtomically(path, a).ok());
  for (int round = 0; round < 12; ++round) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      for (int i = 0;; ++i) {
        if (!WriteFileAtomically(path, (i % 2) ? a : b).ok()) ::_exit(3);
      }
    }
    ::usleep(static_cast<useconds_t>(1000 + 2500 * round));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child failed to write (exit " << WEXITSTATUS(status)
                                     << ")";
    const auto content = ReadFile(path);
    ASSERT_TRUE(content.ok()) << content.status();
    EXPECT_TRUE(*content == a || *content == b)
        << "round " << round << ": torn file of " << content->size() << " bytes";
  }
}

}  // namespace
}  // namespace simdnet
