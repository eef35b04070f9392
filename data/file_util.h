// File helpers for the data readers: in-memory gzip decompression with an output cap (no gzip
// bombs) and a gzip-transparent whole-file read. Whole-file reads and atomic writes live in
// tensor/atomic_file.h.
#ifndef SIMDNET_DATA_FILE_UTIL_H_
#define SIMDNET_DATA_FILE_UTIL_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tensor/atomic_file.h"

namespace simdnet {

// Default cap on the bytes any reader loads or decompresses from one file: the one cap of
// tensor/atomic_file.h's ReadFile, the one whole-file reader (over-cap files are
// ResourceExhausted, as over-cap gzip output here).
inline constexpr int64_t kDefaultMaxFileBytes = static_cast<int64_t>(kDefaultMaxReadBytes);

// Returns true if `bytes` starts with the gzip magic (1f 8b).
bool IsGzip(absl::string_view bytes);

// Decompresses a complete gzip stream (concatenated members allowed). `name` is used in
// messages. Returns DataLoss naming `name` for a corrupt stream or one that ends early, and
// ResourceExhausted if the output would exceed max_output_bytes.
absl::StatusOr<std::string> GunzipBytes(absl::string_view bytes, absl::string_view name,
                                        int64_t max_output_bytes = kDefaultMaxFileBytes);

// Reads `path` and, if it is gzip-compressed (by content, not by name), decompresses it.
// Errors as ReadFile (tensor/atomic_file.h) and GunzipBytes.
absl::StatusOr<std::string> ReadMaybeGzipFile(const std::string& path,
                                              int64_t max_bytes = kDefaultMaxFileBytes);

// Atomic writes: tensor/atomic_file.h (WriteFileAtomically).

}  // namespace simdnet

#endif  // SIMDNET_DATA_FILE_UTIL_H_
