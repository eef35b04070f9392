// WriteFileAtomically / ReadFile: POSIX implementation (open O_EXCL temp, write loop, fsync,
// rename, fsync of the parent directory).
#include "tensor/atomic_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace simdnet {
namespace {

std::atomic<int> g_fault{static_cast<int>(detail::AtomicWriteFault::kNone)};
std::atomic<uint64_t> g_temp_counter{0};
std::mutex g_fault_mutex;
std::string g_fault_suffix;  // guarded by g_fault_mutex; "" = every path

// Returns the fault to simulate for a write to `path`.
detail::AtomicWriteFault FaultFor(const std::string& path) {
  const auto fault = static_cast<detail::AtomicWriteFault>(g_fault.load());
  if (fault == detail::AtomicWriteFault::kNone) return fault;
  std::lock_guard<std::mutex> lock(g_fault_mutex);
  return absl::EndsWith(path, g_fault_suffix) ? fault : detail::AtomicWriteFault::kNone;
}

// Returns whether `name` is "<base>.tmp.<digits>.<digits>", the temp names of
// WriteFileAtomically, with a non-empty base.
bool IsOurTempName(absl::string_view name) {
  const size_t at = name.rfind(".tmp.");
  if (at == absl::string_view::npos || at == 0) return false;
  std::vector<absl::string_view> parts = absl::StrSplit(name.substr(at + 5), '.');
  if (parts.size() != 2) return false;
  for (absl::string_view p : parts) {
    if (p.empty() || !std::all_of(p.begin(), p.end(), [](char c) {
          return absl::ascii_isdigit(static_cast<unsigned char>(c));
        })) {
      return false;
    }
  }
  return true;
}

absl::Status ErrnoError(int err, absl::string_view what, absl::string_view path) {
  return absl::ErrnoToStatus(err, absl::StrCat(what, " '", path, "'"));
}

// Returns the directory part of `path` ("." when it has none).
std::string DirName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Writes all of `bytes` to fd, retrying on EINTR and short writes.
absl::Status WriteAll(int fd, absl::string_view bytes, const std::string& temp) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "WriteFileAtomically: write failed for temp file", temp);
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status FsyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(errno, "WriteFileAtomically: cannot open directory", dir);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  // Some file systems do not support fsync on directories; the rename itself succeeded.
  if (rc != 0 && err != EINVAL && err != ENOTSUP) {
    return ErrnoError(err, "WriteFileAtomically: fsync failed for directory", dir);
  }
  return absl::OkStatus();
}

// Writes `bytes` into the already created temp file `fd` and closes it (always).
absl::Status FillTemp(int fd, absl::string_view bytes, const std::string& temp,
                      detail::AtomicWriteFault fault) {
  absl::Status status;
  if (fault == detail::AtomicWriteFault::kAfterPartialWrite) {
    status = WriteAll(fd, bytes.substr(0, bytes.size() / 2), temp);
    if (status.ok()) {
      status = absl::InternalError(
          absl::StrCat("WriteFileAtomically: injected fault after partial write of '", temp, "'"));
    }
  } else {
    status = WriteAll(fd, bytes, temp);
  }
  if (status.ok() && ::fsync(fd) != 0) {
    status = ErrnoError(errno, "WriteFileAtomically: fsync failed for temp file", temp);
  }
  if (::close(fd) != 0 && status.ok()) {
    status = ErrnoError(errno, "WriteFileAtomically: close failed for temp file", temp);
  }
  if (status.ok() && fault == detail::AtomicWriteFault::kBeforeRename) {
    status = absl::InternalError(
        absl::StrCat("WriteFileAtomically: injected fault before renaming '", temp, "'"));
  }
  return status;
}

}  // namespace

namespace detail {
void SetAtomicWriteFaultForTesting(AtomicWriteFault fault, absl::string_view path_suffix) {
  std::lock_guard<std::mutex> lock(g_fault_mutex);
  g_fault_suffix = std::string(path_suffix);
  g_fault.store(static_cast<int>(fault));
}
}  // namespace detail

absl::Status WriteFileAtomically(absl::string_view path_view, absl::string_view bytes) {
  if (path_view.empty()) {
    return absl::InvalidArgumentError("WriteFileAtomically: empty path");
  }
  const std::string path(path_view);
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat("WriteFileAtomically: '", path, "' is a directory"));
  }
  const std::string temp = absl::StrCat(path, ".tmp.", static_cast<int64_t>(::getpid()), ".",
                                        g_temp_counter.fetch_add(1));
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    return ErrnoError(errno, "WriteFileAtomically: cannot create temp file", temp);
  }
  const detail::AtomicWriteFault fault = FaultFor(path);
  absl::Status status = FillTemp(fd, bytes, temp, fault);
  if (status.ok() && ::rename(temp.c_str(), path.c_str()) != 0) {
    status =
        ErrnoError(errno, absl::StrCat("WriteFileAtomically: cannot rename '", temp, "' to"), path);
  }
  if (!status.ok()) {
    ::unlink(temp.c_str());
    return status;
  }
  return FsyncDir(DirName(path));
}

absl::StatusOr<int64_t> RemoveStaleTempFiles(absl::string_view dir_view) {
  const std::string dir(dir_view);
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return ErrnoError(errno, "RemoveStaleTempFiles: cannot list", dir);
  std::vector<std::string> stale;
  while (const dirent* e = ::readdir(d)) {
    if (IsOurTempName(e->d_name)) stale.push_back(e->d_name);
  }
  ::closedir(d);
  int64_t removed = 0;
  for (const std::string& name : stale) {
    const std::string path = absl::StrCat(dir, "/", name);
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (::unlink(path.c_str()) != 0) {
      return ErrnoError(errno, "RemoveStaleTempFiles: cannot remove", path);
    }
    ++removed;
  }
  return removed;
}

absl::StatusOr<std::string> ReadFile(absl::string_view path_view, uint64_t max_bytes) {
  const std::string path(path_view);
  if (path.empty()) return absl::InvalidArgumentError("ReadFile: empty path");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(errno, "ReadFile: cannot open", path);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return ErrnoError(err, "ReadFile: cannot stat", path);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat("ReadFile: '", path, "' is not a regular file"));
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size > max_bytes) {
    ::close(fd);
    return absl::ResourceExhaustedError(absl::StrCat("ReadFile: '", path, "' has ", size,
                                                     " bytes, more than the limit of ",
                                                     max_bytes));
  }
  std::string out;
  out.resize(static_cast<size_t>(size));
  size_t done = 0;
  // Read until EOF rather than trusting st_size, in case the file changes while we read it.
  for (;;) {
    if (done == out.size()) {
      if (out.size() >= max_bytes) {
        char probe;
        const ssize_t n = ::read(fd, &probe, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n > 0) {
          ::close(fd);
          return absl::ResourceExhaustedError(absl::StrCat(
              "ReadFile: '", path, "' grew beyond the limit of ", max_bytes, " bytes"));
        }
        break;
      }
      out.resize(std::min<uint64_t>(max_bytes, out.size() + 65536));
    }
    const ssize_t n = ::read(fd, &out[done], out.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return ErrnoError(err, absl::StrCat("ReadFile: read failed at byte ", done, " of"), path);
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  out.resize(done);
  return out;
}

}  // namespace simdnet
