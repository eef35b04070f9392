// .npy reader/writer: the header is a Python dict literal, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (10000, 128), }, padded with spaces to a
// multiple of 64 bytes and ended by '\n' (numpy/lib/format.py, format version 1.0).
#include "interpret/npy.h"

#include <cstring>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "tensor/atomic_file.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

absl::Status Bad(absl::string_view path, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", what));
}

// Returns the text after `'key':` up to (not including) the end of its value. The value ends at
// the first ',' at nesting depth 0 (a tuple counts as one value) or at '}'.
absl::StatusOr<std::string> DictValue(absl::string_view header, absl::string_view key,
                                      absl::string_view path) {
  const std::string quoted = absl::StrCat("'", key, "'");
  size_t at = header.find(quoted);
  if (at == absl::string_view::npos) {
    return Bad(path, absl::StrCat("malformed .npy header: no ", quoted, " key"));
  }
  at = header.find(':', at + quoted.size());
  if (at == absl::string_view::npos) {
    return Bad(path, absl::StrCat("malformed .npy header: no ':' after ", quoted));
  }
  int depth = 0;
  size_t end = at + 1;
  for (; end < header.size(); ++end) {
    const char c = header[end];
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (depth == 0 && (c == ',' || c == '}')) break;
  }
  return std::string(absl::StripAsciiWhitespace(header.substr(at + 1, end - at - 1)));
}

int64_t ItemSize(absl::string_view descr) {
  if (descr == "<f4" || descr == "<i4") return 4;
  if (descr == "<i8") return 8;
  return 0;
}

absl::Status Write(absl::string_view path, absl::string_view descr, absl::Span<const int64_t> shape,
                   const void* data, size_t bytes) {
  return WriteFileAtomically(
      path,
      detail::FormatNpy(descr, shape, absl::string_view(static_cast<const char*>(data), bytes)));
}

// The payload is copied byte for byte: this code assumes a little-endian host (x86-64, ARM64),
// which the SIMDNET_CHECK below enforces.
bool HostIsLittleEndian() {
  const uint16_t one = 1;
  uint8_t first;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

}  // namespace

namespace detail {

absl::StatusOr<NpyRaw> ParseNpy(absl::string_view bytes, absl::string_view path) {
  if (bytes.size() < kMagicSize || std::memcmp(bytes.data(), kMagic, kMagicSize) != 0) {
    return Bad(path, "bad magic: not a .npy file (expected \\x93NUMPY)");
  }
  if (bytes.size() < kMagicSize + 4) return Bad(path, "truncated .npy header");
  const int major = static_cast<uint8_t>(bytes[6]);
  size_t header_len = 0, header_start = 0;
  if (major == 1) {
    header_len = static_cast<uint8_t>(bytes[8]) | (size_t{static_cast<uint8_t>(bytes[9])} << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return Bad(path, "truncated .npy header");
    for (int b = 0; b < 4; ++b) header_len |= size_t{static_cast<uint8_t>(bytes[8 + b])} << (8 * b);
    header_start = 12;
  } else {
    return Bad(path, absl::StrCat("unsupported .npy format version ", major, ".",
                                  static_cast<int>(static_cast<uint8_t>(bytes[7]))));
  }
  if (bytes.size() < header_start + header_len) {
    return Bad(path,
               absl::StrCat("truncated .npy header: needs ", header_len,
                            " bytes after the preamble, file has ", bytes.size() - header_start));
  }
  const absl::string_view header = bytes.substr(header_start, header_len);
  NpyRaw raw;
  SIMDNET_ASSIGN_OR_RETURN(std::string descr, DictValue(header, "descr", path));
  if (descr.size() < 2 || (descr.front() != '\'' && descr.front() != '"') ||
      descr.back() != descr.front()) {
    return Bad(path, absl::StrCat("malformed .npy header: descr ", descr));
  }
  raw.descr = descr.substr(1, descr.size() - 2);
  const int64_t item = ItemSize(raw.descr);
  if (item == 0) {
    return Bad(
        path, absl::StrCat("unsupported dtype '", raw.descr, "' (expected '<f4', '<i4' or '<i8')"));
  }
  SIMDNET_ASSIGN_OR_RETURN(std::string order, DictValue(header, "fortran_order", path));
  if (order == "True") {
    return Bad(path, "fortran_order True is not supported (save a C-order array)");
  }
  if (order != "False") {
    return Bad(path, absl::StrCat("malformed .npy header: fortran_order ", order));
  }
  SIMDNET_ASSIGN_OR_RETURN(std::string shape, DictValue(header, "shape", path));
  if (shape.size() < 2 || shape.front() != '(' || shape.back() != ')') {
    return Bad(path, absl::StrCat("malformed .npy header: shape ", shape));
  }
  int64_t count = 1;
  for (absl::string_view part :
       absl::StrSplit(absl::string_view(shape).substr(1, shape.size() - 2), ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (part.empty()) continue;  // "(5,)" has a trailing comma.
    int64_t dim = 0;
    if (!absl::SimpleAtoi(part, &dim) || dim < 0) {
      return Bad(path, absl::StrCat("malformed .npy header: shape ", shape));
    }
    if (dim > 0 && count > std::numeric_limits<int64_t>::max() / item / dim) {
      return Bad(path, absl::StrCat("shape ", shape, " is too large"));
    }
    count *= dim;
    raw.shape.push_back(dim);
  }
  const uint64_t want = static_cast<uint64_t>(count * item);
  const uint64_t have = bytes.size() - header_start - header_len;
  if (have < want) {
    return Bad(path, absl::StrCat("truncated data: shape ", shape, " of ", raw.descr, " needs ",
                                  want, " bytes, file has ", have));
  }
  if (have > want) {
    return Bad(path, absl::StrCat("shape mismatch: shape ", shape, " of ", raw.descr, " needs ",
                                  want, " bytes, file has ", have, " (trailing bytes)"));
  }
  raw.payload = std::string(bytes.substr(header_start + header_len));
  return raw;
}

std::string FormatNpy(absl::string_view descr, absl::Span<const int64_t> shape,
                      absl::string_view payload) {
  std::string dims = absl::StrJoin(shape, ", ");
  if (shape.size() == 1) dims += ",";
  std::string header =
      absl::StrCat("{'descr': '", descr, "', 'fortran_order': False, 'shape': (", dims, "), }");
  // Preamble (10 bytes) + header + '\n' padded with spaces to a multiple of 64.
  const size_t total = (10 + header.size() + 1 + 63) / 64 * 64;
  header.append(total - 10 - header.size() - 1, ' ');
  header.push_back('\n');
  std::string out(kMagic, kMagicSize);
  out.push_back('\x01');
  out.push_back('\x00');
  out.push_back(static_cast<char>(header.size() & 0xff));
  out.push_back(static_cast<char>(header.size() >> 8));
  out += header;
  out.append(payload.data(), payload.size());
  return out;
}

}  // namespace detail

absl::StatusOr<NpyFloatArray> ReadNpyFloat32(absl::string_view path) {
  SIMDNET_CHECK(HostIsLittleEndian());
  SIMDNET_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  SIMDNET_ASSIGN_OR_RETURN(detail::NpyRaw raw, detail::ParseNpy(bytes, path));
  if (raw.descr != "<f4") {
    return Bad(path, absl::StrCat("unsupported dtype '", raw.descr, "' (expected '<f4')"));
  }
  if (raw.shape.size() != 1 && raw.shape.size() != 2) {
    return Bad(path, absl::StrCat("shape mismatch: expected a 1-D or 2-D array, got rank ",
                                  raw.shape.size()));
  }
  NpyFloatArray out;
  out.shape = raw.shape;
  out.data.resize(raw.payload.size() / 4);
  // memcpy from / to a null pointer is undefined even for 0 bytes (an empty array).
  if (!raw.payload.empty()) {
    std::memcpy(out.data.data(), raw.payload.data(), raw.payload.size());
  }
  return out;
}

absl::StatusOr<std::vector<int64_t>> ReadNpyLabels(absl::string_view path) {
  SIMDNET_CHECK(HostIsLittleEndian());
  SIMDNET_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  SIMDNET_ASSIGN_OR_RETURN(detail::NpyRaw raw, detail::ParseNpy(bytes, path));
  if (raw.descr != "<i4" && raw.descr != "<i8") {
    return Bad(path, absl::StrCat("unsupported dtype '", raw.descr,
                                  "' for labels (expected '<i4' or '<i8')"));
  }
  if (raw.shape.size() != 1) {
    return Bad(path,
               absl::StrCat("shape mismatch: labels must be 1-D, got rank ", raw.shape.size()));
  }
  std::vector<int64_t> out(static_cast<size_t>(raw.shape[0]));
  for (size_t i = 0; i < out.size(); ++i) {
    if (raw.descr == "<i4") {
      int32_t v;
      std::memcpy(&v, raw.payload.data() + 4 * i, 4);
      out[i] = v;
    } else {
      std::memcpy(&out[i], raw.payload.data() + 8 * i, 8);
    }
  }
  return out;
}

absl::Status WriteNpyFloat32(absl::string_view path, absl::Span<const float> data,
                             absl::Span<const int64_t> shape) {
  SIMDNET_CHECK(HostIsLittleEndian());
  if (shape.size() != 1 && shape.size() != 2) {
    return Bad(path,
               absl::StrCat("WriteNpyFloat32: shape must have 1 or 2 entries, got ", shape.size()));
  }
  int64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0) return Bad(path, absl::StrCat("WriteNpyFloat32: negative shape entry ", d));
    count *= d;
  }
  if (count != static_cast<int64_t>(data.size())) {
    return Bad(path,
               absl::StrCat("WriteNpyFloat32: shape mismatch: shape (", absl::StrJoin(shape, ", "),
                            ") has ", count, " elements, data has ", data.size()));
  }
  return Write(path, "<f4", shape, data.data(), data.size() * sizeof(float));
}

absl::Status WriteNpyInt32(absl::string_view path, absl::Span<const int32_t> data) {
  SIMDNET_CHECK(HostIsLittleEndian());
  const int64_t shape[1] = {static_cast<int64_t>(data.size())};
  return Write(path, "<i4", shape, data.data(), data.size() * sizeof(int32_t));
}

absl::Status WriteNpyInt64(absl::string_view path, absl::Span<const int64_t> data) {
  SIMDNET_CHECK(HostIsLittleEndian());
  const int64_t shape[1] = {static_cast<int64_t>(data.size())};
  return Write(path, "<i8", shape, data.data(), data.size() * sizeof(int64_t));
}

}  // namespace simdnet
