// NumPy .npy files (format version 1.0; 2.0 is also read): float32 arrays of rank 1 or 2 and
// int32/int64 label vectors, little-endian, C order. Writes are atomic (tensor/atomic_file.h);
// reads validate the magic, header, dtype, order and size before touching the data.
#ifndef SIMDNET_INTERPRET_NPY_H_
#define SIMDNET_INTERPRET_NPY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace simdnet {

// A float32 array read from a .npy file: shape has 1 or 2 entries, data is C order.
struct NpyFloatArray {
  std::vector<int64_t> shape;
  std::vector<float> data;  // Product of shape entries.
};

// Reads a '<f4' array of rank 1 or 2 from `path`.
// Returns InvalidArgument naming the path and the problem for a bad magic, an unsupported
// version, a malformed header, another dtype ("unsupported dtype '<f8'"), fortran_order True,
// another rank, or a data size that does not match the shape ("truncated" / "trailing bytes");
// the errno-mapped status from ReadFile if the file cannot be read.
absl::StatusOr<NpyFloatArray> ReadNpyFloat32(absl::string_view path);

// Reads a rank-1 '<i4' or '<i8' array from `path` as int64. Errors as ReadNpyFloat32.
absl::StatusOr<std::vector<int64_t>> ReadNpyLabels(absl::string_view path);

// Writes data with `shape` (1 or 2 entries, each >= 0) as a '<f4' C-order .npy v1.0 file,
// atomically. InvalidArgument if the rank is not 1 or 2, an entry is negative, or data.size()
// is not the product of the shape.
absl::Status WriteNpyFloat32(absl::string_view path, absl::Span<const float> data,
                             absl::Span<const int64_t> shape);

// Writes a rank-1 '<i4' / '<i8' .npy v1.0 file atomically.
absl::Status WriteNpyInt32(absl::string_view path, absl::Span<const int32_t> data);
absl::Status WriteNpyInt64(absl::string_view path, absl::Span<const int64_t> data);

namespace detail {

// A parsed .npy header and the raw little-endian payload.
struct NpyRaw {
  std::string descr;  // e.g. "<f4".
  std::vector<int64_t> shape;
  std::string payload;  // Exactly product(shape) * item size bytes.
};

// Parses the bytes of a .npy file (errors name `path`); checks the payload size against the
// dtype's item size for '<f4', '<i4', '<i8' (other dtypes are rejected).
absl::StatusOr<NpyRaw> ParseNpy(absl::string_view bytes, absl::string_view path);

// Returns the complete .npy v1.0 file bytes for `payload` (header padded to 64 bytes).
std::string FormatNpy(absl::string_view descr, absl::Span<const int64_t> shape,
                      absl::string_view payload);

}  // namespace detail
}  // namespace simdnet

#endif  // SIMDNET_INTERPRET_NPY_H_
