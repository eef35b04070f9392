// Capped gzip decompression and the gzip-transparent whole-file read.
#include "data/file_util.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "tensor/atomic_file.h"

namespace simdnet {
bool IsGzip(absl::string_view bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

absl::StatusOr<std::string> GunzipBytes(absl::string_view bytes, absl::string_view name,
                                        int64_t max_output_bytes) {
  z_stream zs;
  std::memset(&zs, 0, sizeof(zs));
  // 15 + 16: gzip wrapper only (zlib/raw streams are not what data sets ship as).
  if (inflateInit2(&zs, 15 + 16) != Z_OK) {
    return absl::InternalError(absl::StrCat("zlib inflateInit2 failed for '", name, "'"));
  }
  std::string out;
  // Reserve from the trailer's ISIZE (size mod 2^32) as a hint. The trailer is untrusted, so the
  // hint is also bounded by deflate's maximum ratio (1032:1) and 64 MiB; beyond that the string
  // grows geometrically as real output arrives.
  if (bytes.size() >= 18) {
    const unsigned char* t = reinterpret_cast<const unsigned char*>(bytes.data() + bytes.size() - 4);
    const uint32_t isize = t[0] | (t[1] << 8) | (t[2] << 16) | (uint32_t{t[3]} << 24);
    const int64_t hint = std::min({static_cast<int64_t>(isize), max_output_bytes,
                                   static_cast<int64_t>(bytes.size()) * 1032, int64_t{64} << 20});
    out.reserve(static_cast<size_t>(hint));
  }
  size_t consumed = 0;
  absl::Status status;
  char buf[1 << 16];
  bool stream_end = false;
  while (true) {
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data() + consumed));
    const size_t avail = bytes.size() - consumed;
    zs.avail_in = static_cast<uInt>(std::min<size_t>(avail, 1u << 30));
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof(buf);
    const uInt in_before = zs.avail_in;
    const int rc = inflate(&zs, Z_NO_FLUSH);
    consumed += in_before - zs.avail_in;
    const size_t produced = sizeof(buf) - zs.avail_out;
    if (static_cast<int64_t>(out.size() + produced) > max_output_bytes) {
      status = absl::ResourceExhaustedError(absl::StrCat(
          "gzip stream '", name, "' decompresses to more than the limit of ", max_output_bytes,
          " bytes"));
      break;
    }
    out.append(buf, produced);
    if (rc == Z_STREAM_END) {
      // Another gzip member may follow (concatenated .gz files are valid gzip).
      if (consumed < bytes.size() && IsGzip(bytes.substr(consumed))) {
        inflateReset(&zs);
        continue;
      }
      stream_end = true;
      break;
    }
    if (rc == Z_BUF_ERROR || (rc == Z_OK && produced == 0 && in_before == zs.avail_in)) {
      // No progress: either the input is exhausted before the end of the stream (reported as
      // truncated below), or zlib is stuck, which a valid stream never does.
      if (consumed >= bytes.size()) break;
      if (produced == 0 && in_before == zs.avail_in) {
        status = absl::DataLossError(absl::StrCat("corrupt gzip stream '", name,
                                                  "': no progress at compressed byte ", consumed));
        break;
      }
      continue;
    }
    if (rc != Z_OK) {
      status = absl::DataLossError(absl::StrCat("corrupt gzip stream '", name, "' at compressed byte ",
                                                consumed, ": ", zs.msg ? zs.msg : "inflate error"));
      break;
    }
  }
  inflateEnd(&zs);
  if (!status.ok()) return status;
  if (!stream_end) {
    return absl::DataLossError(absl::StrCat("gzip stream '", name, "' ends early after ",
                                            bytes.size(), " compressed bytes (", out.size(),
                                            " bytes decompressed): truncated file?"));
  }
  return out;
}

absl::StatusOr<std::string> ReadMaybeGzipFile(const std::string& path, int64_t max_bytes) {
  absl::StatusOr<std::string> raw = ReadFile(path, static_cast<uint64_t>(max_bytes));
  if (!raw.ok() || !IsGzip(*raw)) return raw;
  return GunzipBytes(*raw, path, max_bytes);
}

}  // namespace simdnet
