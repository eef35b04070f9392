// Safetensors writer and validating loader (see safetensors.h for the format and the checks).
#include "train/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "tensor/shape.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors data is little-endian; add byte swapping for big-endian hosts");

using Json = nlohmann::json;

constexpr char kMetadataKey[] = "__metadata__";
// Root object -> tensor entry -> shape/offsets array: values nested deeper than this are never
// valid, so the validating pass stops there (bounds memory and recursion for hostile headers).
constexpr size_t kMaxJsonDepth = 3;

enum class DType { kF32, kI32, kI64 };

size_t DTypeSize(DType t) { return t == DType::kI64 ? 8 : 4; }
const char* DTypeName(DType t) {
  switch (t) {
    case DType::kF32:
      return "F32";
    case DType::kI32:
      return "I32";
    case DType::kI64:
      return "I64";
  }
  return "?";
}

// Writes v as 8 little-endian bytes.
void AppendU64Le(uint64_t v, std::string* out) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

uint64_t ReadU64Le(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Writer.

struct WriteEntry {
  std::string name;
  DType dtype;
  std::vector<int64_t> dims;
  const Tensor* f32 = nullptr;
  const IntTensor* ints = nullptr;
  uint64_t num_bytes = 0;
};

// Returns true if s is well-formed UTF-8 (JSON strings must be; no overlongs or surrogates).
bool IsValidUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t extra;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (extra >= s.size() - i) return false;
    for (size_t k = 1; k <= extra; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMin[4] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

absl::Status CheckUtf8(absl::string_view what, absl::string_view s) {
  if (IsValidUtf8(s)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("SerializeSafetensors: ", what, " is not valid UTF-8"));
}

absl::Status CheckWriteName(const std::string& name) {
  SIMDNET_RETURN_IF_ERROR(CheckUtf8("a tensor name", name));
  if (name.empty()) return absl::InvalidArgumentError("SerializeSafetensors: empty tensor name");
  if (name == kMetadataKey) {
    return absl::InvalidArgumentError(
        "SerializeSafetensors: tensor name \"__metadata__\" is reserved for metadata");
  }
  return absl::OkStatus();
}

absl::Status CheckIntTensor(const std::string& name, const IntTensor& t) {
  if (t.dims.size() > static_cast<size_t>(Shape::kMaxRank)) {
    return absl::InvalidArgumentError(absl::StrCat("SerializeSafetensors: int tensor '", name,
                                                   "' has rank ", t.dims.size(), " > ",
                                                   Shape::kMaxRank));
  }
  SIMDNET_ASSIGN_OR_RETURN(Shape shape, Shape::Create(t.dims));
  if (static_cast<uint64_t>(shape.size()) != t.values.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("SerializeSafetensors: int tensor '", name, "' has shape ", shape.ToString(),
                     " (", shape.size(), " elements) but ", t.values.size(), " values"));
  }
  if (t.dtype == IntDType::kI32) {
    for (size_t i = 0; i < t.values.size(); ++i) {
      const int64_t v = t.values[i];
      if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max()) {
        return absl::InvalidArgumentError(absl::StrCat("SerializeSafetensors: I32 tensor '", name,
                                                       "' value [", i, "] = ", v,
                                                       " does not fit in int32"));
      }
    }
  }
  return absl::OkStatus();
}

void AppendEntryData(const WriteEntry& e, std::string* out) {
  if (e.f32 != nullptr) {
    if (e.num_bytes > 0) out->append(reinterpret_cast<const char*>(e.f32->data()), e.num_bytes);
    return;
  }
  for (int64_t v : e.ints->values) {
    if (e.dtype == DType::kI32) {
      const int32_t v32 = static_cast<int32_t>(v);
      char b[4];
      std::memcpy(b, &v32, 4);
      out->append(b, 4);
    } else {
      char b[8];
      std::memcpy(b, &v, 8);
      out->append(b, 8);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Loader, pass 1: a SAX walk that rejects syntax errors (with their byte position), duplicate
// keys at any level and nesting deeper than kMaxJsonDepth, without building anything.

class ValidatingSax {
 public:
  bool null() { return true; }
  bool boolean(bool) { return true; }
  bool number_integer(Json::number_integer_t) { return true; }
  bool number_unsigned(Json::number_unsigned_t) { return true; }
  bool number_float(Json::number_float_t, const Json::string_t&) { return true; }
  bool string(Json::string_t&) { return true; }
  bool binary(Json::binary_t&) { return true; }
  bool start_object(size_t) {
    keys_.emplace_back();
    return CheckDepth();
  }
  bool key(Json::string_t& k) {
    if (!keys_.back().insert(k).second) {
      error_ = absl::StrCat("duplicate key \"", k, "\"");
      return false;
    }
    return true;
  }
  bool end_object() {
    keys_.pop_back();
    return true;
  }
  bool start_array(size_t) {
    keys_.emplace_back();  // Arrays take a level too (keeps depth = stack size).
    return CheckDepth();
  }
  bool end_array() {
    keys_.pop_back();
    return true;
  }
  bool parse_error(size_t position, const std::string& last_token,
                   const nlohmann::detail::exception& ex) {
    error_ = absl::StrCat("invalid JSON near header byte ", position, ": ", ex.what());
    return false;
  }

  const std::string& error() const { return error_; }

 private:
  bool CheckDepth() {
    if (keys_.size() > kMaxJsonDepth) {
      error_ = absl::StrCat("JSON nesting deeper than ", kMaxJsonDepth, " levels");
      return false;
    }
    return true;
  }

  std::vector<std::set<std::string>> keys_;
  std::string error_;
};

struct LoadEntry {
  std::string name;
  DType dtype;
  std::vector<int64_t> dims;
  uint64_t begin = 0;
  uint64_t end = 0;
};

class Loader {
 public:
  Loader(absl::string_view bytes, absl::string_view source) : bytes_(bytes), source_(source) {}

  absl::StatusOr<SafetensorsContents> Run() {
    if (bytes_.size() < 8) {
      return Error(absl::StrCat("file has ", bytes_.size(),
                                " bytes, fewer than the 8-byte header length at byte offset 0"));
    }
    const uint64_t header_len = ReadU64Le(bytes_.data());
    if (header_len > kMaxSafetensorsHeaderBytes) {
      return Error(absl::StrCat("header length ", header_len, " (at byte offset 0) exceeds the ",
                                kMaxSafetensorsHeaderBytes, "-byte limit"));
    }
    if (header_len > bytes_.size() - 8) {
      return Error(absl::StrCat("header length ", header_len, " (at byte offset 0) exceeds the ",
                                bytes_.size() - 8, " bytes after the length field (truncated?)"));
    }
    if (header_len < 2 || bytes_[8] != '{') {
      return Error("header at byte offset 8 does not start with '{' (not a JSON object)");
    }
    header_ = bytes_.substr(8, header_len);
    data_ = bytes_.substr(8 + header_len);
    data_start_ = 8 + header_len;

    ValidatingSax sax;
    const bool ok = Json::sax_parse(header_.begin(), header_.end(), &sax);
    if (!ok) {
      return Error(absl::StrCat("header (byte offsets 8..", data_start_,
                                "): ", sax.error().empty() ? "invalid JSON" : sax.error()));
    }
    const Json root = Json::parse(header_.begin(), header_.end(), nullptr, false);
    if (root.is_discarded() || !root.is_object()) {
      return Error("header at byte offset 8 is not a JSON object");
    }

    SafetensorsContents out;
    std::vector<LoadEntry> entries;
    for (auto it = root.begin(); it != root.end(); ++it) {
      if (it.key() == kMetadataKey) {
        SIMDNET_RETURN_IF_ERROR(ParseMetadata(it.value(), &out.metadata));
        continue;
      }
      SIMDNET_ASSIGN_OR_RETURN(LoadEntry e, ParseEntry(it.key(), it.value()));
      entries.push_back(std::move(e));
    }
    SIMDNET_RETURN_IF_ERROR(CheckLayout(&entries));
    // Everything is validated: now allocate and copy.
    for (const LoadEntry& e : entries) CopyOut(e, &out);
    return out;
  }

 private:
  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat("safetensors '", source_, "': ", what));
  }
  absl::Status TensorError(const std::string& name, absl::string_view what) const {
    return Error(absl::StrCat("tensor '", name, "' (header bytes 8..", data_start_, "): ", what));
  }

  absl::Status ParseMetadata(const Json& j, std::map<std::string, std::string>* out) const {
    if (!j.is_object()) {
      return Error(absl::StrCat("\"__metadata__\" (header bytes 8..", data_start_,
                                ") must be an object of strings, got ", j.type_name()));
    }
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (!it.value().is_string()) {
        return Error(absl::StrCat("\"__metadata__\" value for key '", it.key(),
                                  "' must be a string, got ", it.value().type_name()));
      }
      (*out)[it.key()] = it.value().get<std::string>();
    }
    return absl::OkStatus();
  }

  absl::StatusOr<LoadEntry> ParseEntry(const std::string& name, const Json& j) const {
    LoadEntry e;
    e.name = name;
    if (name.empty()) return Error("empty tensor name in header at byte offset 8");
    if (!j.is_object()) {
      return TensorError(name, absl::StrCat("entry must be an object, got ", j.type_name()));
    }
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it.key() != "dtype" && it.key() != "shape" && it.key() != "data_offsets") {
        return TensorError(name, absl::StrCat("unknown field \"", it.key(), "\""));
      }
    }
    // dtype.
    const auto dt = j.find("dtype");
    if (dt == j.end()) return TensorError(name, "missing field \"dtype\"");
    if (!dt->is_string()) {
      return TensorError(name, absl::StrCat("\"dtype\" must be a string, got ", dt->type_name()));
    }
    const std::string& dtype = dt->get_ref<const std::string&>();
    if (dtype == "F32") {
      e.dtype = DType::kF32;
    } else if (dtype == "I32") {
      e.dtype = DType::kI32;
    } else if (dtype == "I64") {
      e.dtype = DType::kI64;
    } else {
      static const std::set<std::string> kKnown = {"BOOL", "U8",  "I8",      "U16",
                                                   "I16",  "F16", "BF16",    "U32",
                                                   "U64",  "F64", "F8_E4M3", "F8_E5M2"};
      return TensorError(name, absl::StrCat(kKnown.count(dtype) ? "unsupported" : "unknown",
                                            " dtype \"", dtype, "\" (supported: F32, I32, I64)"));
    }
    // shape.
    const auto sh = j.find("shape");
    if (sh == j.end()) return TensorError(name, "missing field \"shape\"");
    if (!sh->is_array()) {
      return TensorError(name, absl::StrCat("\"shape\" must be an array, got ", sh->type_name()));
    }
    if (sh->size() > static_cast<size_t>(Shape::kMaxRank)) {
      return TensorError(name, absl::StrCat("\"shape\" has rank ", sh->size(),
                                            ", more than the supported ", Shape::kMaxRank));
    }
    uint64_t elements = 1;
    for (size_t i = 0; i < sh->size(); ++i) {
      const Json& d = (*sh)[i];
      if (!d.is_number_unsigned()) {
        return TensorError(name, absl::StrCat("\"shape\"[", i,
                                              "] must be a non-negative integer, "
                                              "got ",
                                              d.dump()));
      }
      const uint64_t v = d.get<uint64_t>();
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
          (v != 0 && elements > std::numeric_limits<uint64_t>::max() / v)) {
        return TensorError(
            name, absl::StrCat("\"shape\"[", i, "] = ", v, " makes the element count overflow"));
      }
      elements *= v;
      e.dims.push_back(static_cast<int64_t>(v));
    }
    const uint64_t size = DTypeSize(e.dtype);
    if (elements > std::numeric_limits<uint64_t>::max() / size ||
        elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return TensorError(name,
                         absl::StrCat("byte size of shape with ", elements, " elements overflows"));
    }
    const uint64_t nbytes = elements * size;
    // data_offsets.
    const auto off = j.find("data_offsets");
    if (off == j.end()) return TensorError(name, "missing field \"data_offsets\"");
    if (!off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned()) {
      return TensorError(name, absl::StrCat("\"data_offsets\" must be [begin, end] with "
                                            "non-negative integers, got ",
                                            off->dump()));
    }
    e.begin = (*off)[0].get<uint64_t>();
    e.end = (*off)[1].get<uint64_t>();
    if (e.begin > e.end) {
      return TensorError(name,
                         absl::StrCat("data_offsets [", e.begin, ", ", e.end, "] has begin > end"));
    }
    if (e.end > data_.size()) {
      return TensorError(
          name, absl::StrCat("data_offsets [", e.begin, ", ", e.end, "] (file bytes ",
                             data_start_ + e.begin, "..", AbsOffset(e.end), ") exceed the ",
                             data_.size(), "-byte data section (truncated file?)"));
    }
    if (e.end - e.begin != nbytes) {
      return TensorError(
          name, absl::StrCat("data_offsets [", e.begin, ", ", e.end, "] span ", e.end - e.begin,
                             " bytes at file byte ", data_start_ + e.begin, " but ",
                             DTypeName(e.dtype), " shape ", sh->dump(), " needs ", nbytes));
    }
    return e;
  }

  // Saturating: used only for messages about out-of-range offsets.
  uint64_t AbsOffset(uint64_t rel) const {
    return rel > std::numeric_limits<uint64_t>::max() - data_start_ ? rel : data_start_ + rel;
  }

  // Checks that the entries tile the data section exactly (no overlap, no gap, no tail).
  absl::Status CheckLayout(std::vector<LoadEntry>* entries) const {
    std::sort(entries->begin(), entries->end(), [](const LoadEntry& a, const LoadEntry& b) {
      return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    uint64_t expected = 0;
    for (const LoadEntry& e : *entries) {
      if (e.begin < expected) {
        return TensorError(e.name, absl::StrCat("data at file byte ", data_start_ + e.begin,
                                                " overlaps the previous tensor, which ends at "
                                                "file byte ",
                                                data_start_ + expected));
      }
      if (e.begin > expected) {
        return TensorError(e.name, absl::StrCat("gap of ", e.begin - expected,
                                                " unused bytes before its data at file byte ",
                                                data_start_ + e.begin));
      }
      expected = e.end;
    }
    if (expected != data_.size()) {
      return Error(absl::StrCat(data_.size() - expected, " trailing bytes at file byte ",
                                data_start_ + expected, " are not covered by any tensor"));
    }
    return absl::OkStatus();
  }

  void CopyOut(const LoadEntry& e, SafetensorsContents* out) const {
    const char* src = data_.data() + e.begin;
    if (e.dtype == DType::kF32) {
      Tensor t{Shape(absl::Span<const int64_t>(e.dims))};
      if (t.size() > 0) std::memcpy(t.data(), src, e.end - e.begin);
      out->tensors.emplace(e.name, std::move(t));
      return;
    }
    IntTensor it;
    it.dtype = e.dtype == DType::kI32 ? IntDType::kI32 : IntDType::kI64;
    it.dims = e.dims;
    const size_t size = DTypeSize(e.dtype);
    const size_t n = (e.end - e.begin) / size;
    it.values.resize(n);
    for (size_t i = 0; i < n; ++i) {
      if (e.dtype == DType::kI32) {
        int32_t v;
        std::memcpy(&v, src + i * 4, 4);
        it.values[i] = v;
      } else {
        std::memcpy(&it.values[i], src + i * 8, 8);
      }
    }
    out->int_tensors.emplace(e.name, std::move(it));
  }

  absl::string_view bytes_;
  std::string source_;
  absl::string_view header_;
  absl::string_view data_;
  uint64_t data_start_ = 0;
};

}  // namespace

absl::StatusOr<std::string> SerializeSafetensors(const SafetensorsContents& contents) {
  std::vector<WriteEntry> entries;
  for (const auto& [name, t] : contents.tensors) {
    SIMDNET_RETURN_IF_ERROR(CheckWriteName(name));
    WriteEntry e;
    e.name = name;
    e.dtype = DType::kF32;
    e.dims.assign(t.shape().dims().begin(), t.shape().dims().end());
    e.f32 = &t;
    e.num_bytes = static_cast<uint64_t>(t.size()) * 4;
    entries.push_back(std::move(e));
  }
  for (const auto& [name, t] : contents.int_tensors) {
    SIMDNET_RETURN_IF_ERROR(CheckWriteName(name));
    if (contents.tensors.count(name) != 0) {
      return absl::InvalidArgumentError(absl::StrCat("SerializeSafetensors: tensor name '", name,
                                                     "' is used by both a float and an int "
                                                     "tensor"));
    }
    SIMDNET_RETURN_IF_ERROR(CheckIntTensor(name, t));
    WriteEntry e;
    e.name = name;
    e.dtype = t.dtype == IntDType::kI32 ? DType::kI32 : DType::kI64;
    e.dims = t.dims;
    e.ints = &t;
    e.num_bytes = t.values.size() * DTypeSize(e.dtype);
    entries.push_back(std::move(e));
  }
  // Larger elements first, then by name: every tensor starts at a multiple of its element size.
  std::sort(entries.begin(), entries.end(), [](const WriteEntry& a, const WriteEntry& b) {
    const size_t sa = DTypeSize(a.dtype), sb = DTypeSize(b.dtype);
    return sa != sb ? sa > sb : a.name < b.name;
  });

  Json header = Json::object();
  uint64_t offset = 0;
  for (const WriteEntry& e : entries) {
    header[e.name] = {{"dtype", DTypeName(e.dtype)},
                      {"shape", e.dims},
                      {"data_offsets", {offset, offset + e.num_bytes}}};
    offset += e.num_bytes;
  }
  if (!contents.metadata.empty()) {
    Json meta = Json::object();
    for (const auto& [k, v] : contents.metadata) {
      SIMDNET_RETURN_IF_ERROR(CheckUtf8(absl::StrCat("metadata key '", k, "'"), k));
      SIMDNET_RETURN_IF_ERROR(CheckUtf8(absl::StrCat("metadata value for key '", k, "'"), v));
      meta[k] = v;
    }
    header[kMetadataKey] = std::move(meta);
  }
  // All strings were checked to be UTF-8 above; `replace` only guarantees dump() never throws.
  std::string header_text = header.dump(-1, ' ', false, Json::error_handler_t::replace);
  while (header_text.size() % 8 != 0) header_text.push_back(' ');
  if (header_text.size() > kMaxSafetensorsHeaderBytes) {
    return absl::InvalidArgumentError(absl::StrCat("SerializeSafetensors: header of ",
                                                   header_text.size(), " bytes exceeds the ",
                                                   kMaxSafetensorsHeaderBytes, "-byte limit"));
  }

  std::string out;
  out.reserve(8 + header_text.size() + offset);
  AppendU64Le(header_text.size(), &out);
  out += header_text;
  for (const WriteEntry& e : entries) AppendEntryData(e, &out);
  SIMDNET_CHECK(out.size() == 8 + header_text.size() + offset);
  return out;
}

absl::Status SaveSafetensors(absl::string_view path, const SafetensorsContents& contents) {
  auto bytes = SerializeSafetensors(contents);
  if (!bytes.ok()) {
    return absl::Status(bytes.status().code(),
                        absl::StrCat(bytes.status().message(), " (writing '", path, "')"));
  }
  return WriteFileAtomically(path, *bytes);
}

absl::StatusOr<SafetensorsContents> ParseSafetensors(absl::string_view bytes,
                                                     absl::string_view source) {
  return Loader(bytes, source).Run();
}

absl::StatusOr<SafetensorsContents> LoadSafetensors(absl::string_view path, uint64_t max_bytes) {
  SIMDNET_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path, max_bytes));
  return ParseSafetensors(bytes, path);
}

}  // namespace simdnet
