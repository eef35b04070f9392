// File helpers for the data readers: bounded whole-file reads and in-memory gzip decompression
// with an output cap (no gzip bombs). Atomic writes live in tensor/atomic_file.h.
#ifndef SIMDNET_DATA_FILE_UTIL_H_
#define SIMDNET_DATA_FILE_UTIL_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace simdnet {

// Default cap on the bytes any reader loads or decompresses from one file (2 GiB).
inline constexpr int64_t kDefaultMaxFileBytes = int64_t{2} << 30;

// Reads the whole file at `path`. Returns NotFound / PermissionDenied / DataLoss naming the path
// when it cannot be opened or read, and ResourceExhausted if it is larger than max_bytes.
// Requires: max_bytes >= 0.
absl::StatusOr<std::string> ReadFileToString(const std::string& path,
                                             int64_t max_bytes = kDefaultMaxFileBytes);

// Returns true if `bytes` starts with the gzip magic (1f 8b).
bool IsGzip(absl::string_view bytes);

// Decompresses a complete gzip stream (concatenated members allowed). `name` is used in
// messages. Returns DataLoss naming `name` for a corrupt stream or one that ends early, and
// ResourceExhausted if the output would exceed max_output_bytes.
absl::StatusOr<std::string> GunzipBytes(absl::string_view bytes, absl::string_view name,
                                        int64_t max_output_bytes = kDefaultMaxFileBytes);

// Reads `path` and, if it is gzip-compressed (by content, not by name), decompresses it.
// Errors as ReadFileToString and GunzipBytes.
absl::StatusOr<std::string> ReadMaybeGzipFile(const std::string& path,
                                              int64_t max_bytes = kDefaultMaxFileBytes);

// Atomic writes: tensor/atomic_file.h (WriteFileAtomically).

}  // namespace simdnet

#endif  // SIMDNET_DATA_FILE_UTIL_H_
