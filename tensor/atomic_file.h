// Crash-safe whole-file writes (temp file + fsync + rename + directory fsync) and bounded
// whole-file reads, both reporting failures as absl::Status naming the path and the step.
#ifndef SIMDNET_TENSOR_ATOMIC_FILE_H_
#define SIMDNET_TENSOR_ATOMIC_FILE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace simdnet {

// Default cap for ReadFile: 4 GiB, well above any checkpoint, log or data file this project
// reads. ReadFile is the one whole-file reader; callers with a tighter budget (model specs, CIFAR
// metadata) pass their own cap.
inline constexpr uint64_t kDefaultMaxReadBytes = uint64_t{4} << 30;

// Replaces the file at `path` with exactly `bytes`. The data goes to a fresh temp file in the
// same directory ("<path>.tmp.<pid>.<n>"), which is fsynced, renamed over `path`, after which
// the directory is fsynced. A crash at any point leaves either the old file or the complete new
// one at `path`, never a partial file; on error the temp file is removed (a process killed
// mid-write may leave a stray "<path>.tmp.*" file, never a damaged `path`).
// New files get mode 0644 filtered by the umask. If `path` is a symlink, it is replaced by a
// regular file (the link target is untouched).
// Returns: InvalidArgument for an empty path or a path naming a directory; the errno-mapped
// status (NotFound, PermissionDenied, ...) naming the path and the failed step otherwise.
absl::Status WriteFileAtomically(absl::string_view path, absl::string_view bytes);

// Reads the whole regular file at `path`.
// Returns: NotFound / PermissionDenied / ... (errno-mapped, naming the path) if it cannot be
// opened; InvalidArgument if it is not a regular file; ResourceExhausted if it is larger than
// `max_bytes` (the message gives both sizes).
absl::StatusOr<std::string> ReadFile(absl::string_view path,
                                     uint64_t max_bytes = kDefaultMaxReadBytes);

// Removes the regular files in `dir` whose names have WriteFileAtomically's temp pattern
// "<name>.tmp.<pid>.<n>" (left behind by a process killed mid-write), and nothing else.
// Requires: no WriteFileAtomically to `dir` is in flight. Returns the number removed, or the
// errno-mapped error naming the directory or file.
absl::StatusOr<int64_t> RemoveStaleTempFiles(absl::string_view dir);

namespace detail {

// Fault injection for tests of WriteFileAtomically: simulates a failure at a given step after
// the temp file exists, to check that the old file survives and no temp file is left behind.
enum class AtomicWriteFault {
  kNone,
  kAfterPartialWrite,  // Fails after writing the first half of the bytes.
  kBeforeRename,       // Fails after the temp file is complete and fsynced.
};
// Sets the fault the next WriteFileAtomically calls will simulate (process-wide; tests only),
// for paths ending in `path_suffix` ("" = every path).
void SetAtomicWriteFaultForTesting(AtomicWriteFault fault, absl::string_view path_suffix = "");

}  // namespace detail
}  // namespace simdnet

#endif  // SIMDNET_TENSOR_ATOMIC_FILE_H_
