// Reads and writes checkpoints in the HuggingFace safetensors format: an 8-byte little-endian
// header length N, N bytes of JSON header, then the raw little-endian tensor data (C order).
// The loader validates every field and size before allocating or copying any tensor data.
//
// Header: {"<name>": {"dtype": "F32", "shape": [d0, ...], "data_offsets": [begin, end]}, ...,
//          "__metadata__": {"<key>": "<string value>", ...}}
// Offsets are relative to the start of the data section; the tensors must tile it exactly.
// Files written here load with `safetensors.torch.load_file` (PyTorch names such as
// "features.0.weight", F32, C-order) and vice versa for F32/I32/I64 tensors.
#ifndef SIMDNET_TRAIN_SAFETENSORS_H_
#define SIMDNET_TRAIN_SAFETENSORS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tensor/tensor.h"
#include "tensor/atomic_file.h"

namespace simdnet {

// Largest JSON header the loader accepts: 100,000,000 bytes, the limit of the HuggingFace
// reference implementation (MAX_HEADER_SIZE), so both accept the same files.
inline constexpr uint64_t kMaxSafetensorsHeaderBytes = 100000000;

// Element types of integer tensors (float tensors are always F32).
enum class IntDType { kI32, kI64 };

// An integer tensor (step counters, RNG state words, label lists). `values` is row-major.
// Invariant expected by the writer: product(dims) == values.size(), every dim >= 0, and for
// kI32 every value fits in int32.
struct IntTensor {
  IntDType dtype = IntDType::kI64;
  std::vector<int64_t> dims;
  std::vector<int64_t> values;
};

// Everything a safetensors file holds. Tensor names are shared by both maps (a name may appear
// in only one of them) and must not be empty or "__metadata__".
struct SafetensorsContents {
  std::map<std::string, Tensor> tensors;         // F32 tensors.
  std::map<std::string, IntTensor> int_tensors;  // I32 / I64 tensors.
  std::map<std::string, std::string> metadata;   // "__metadata__": string -> string.
};

// Serializes `contents` to the bytes of a safetensors file. Tensors are laid out by element
// size (I64 first) then by name, the header is padded with spaces to a multiple of 8 bytes, so
// every tensor's data is naturally aligned when the file is mapped. Deterministic: the same
// contents always give the same bytes.
// Returns InvalidArgument naming the tensor for an empty/reserved/duplicate name, an
// IntTensor whose dims do not match its values, or an I32 value out of range; also for a
// tensor of rank > Shape::kMaxRank.
absl::StatusOr<std::string> SerializeSafetensors(const SafetensorsContents& contents);

// Serializes `contents` and writes them to `path` with WriteFileAtomically.
absl::Status SaveSafetensors(absl::string_view path, const SafetensorsContents& contents);

// Parses the bytes of a safetensors file. `source` names the bytes in error messages (a path).
// Rejects, with InvalidArgument naming the source, the tensor or field, and the byte offset:
// a file shorter than 8 bytes; a header length above kMaxSafetensorsHeaderBytes or beyond the
// file; a header that is not a JSON object, has duplicate keys or nesting deeper than the
// format allows; unknown or unsupported dtypes (supported: F32, I32, I64); missing, extra or
// mistyped fields; negative, fractional or too many dims; byte sizes that overflow or do not
// equal product(shape) * dtype size; offsets outside the data section, overlapping, leaving
// gaps or not covering it; an empty name; metadata that is not an object of strings.
absl::StatusOr<SafetensorsContents> ParseSafetensors(absl::string_view bytes,
                                                     absl::string_view source = "<memory>");

// Reads `path` (at most `max_bytes`) and parses it with ParseSafetensors.
absl::StatusOr<SafetensorsContents> LoadSafetensors(absl::string_view path,
                                                    uint64_t max_bytes = kDefaultMaxReadBytes);

}  // namespace simdnet

#endif  // SIMDNET_TRAIN_SAFETENSORS_H_
