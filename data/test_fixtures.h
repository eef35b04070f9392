// Test-only writers for small data-set files (IDX, gzip, CIFAR records, PNG/JPEG/BMP images) in
// TEST_TMPDIR, so tests generate their fixtures instead of committing binaries.
#ifndef SIMDNET_DATA_TEST_FIXTURES_H_
#define SIMDNET_DATA_TEST_FIXTURES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace simdnet {
namespace test {

// Returns a fresh directory under TEST_TMPDIR (or /tmp) named after `name`; created if missing.
std::string TempDir(absl::string_view name);

// Returns the bytes of an unsigned-byte IDX file with the given dims and payload (payload is not
// checked against dims, so tests can build malformed files).
std::string MakeIdx(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& payload);

// Returns `bytes` compressed as a gzip stream.
std::string Gzip(absl::string_view bytes);

// Writes `bytes` to `path` (test helper; aborts the test binary on I/O failure).
void WriteFile(const std::string& path, absl::string_view bytes);

// Returns n CIFAR records: label byte(s) then 3072 image bytes (pixel value (i + k) % 251).
// `fine_labels` empty means CIFAR-10 records (one label byte).
std::string MakeCifarRecords(const std::vector<uint8_t>& labels,
                             const std::vector<uint8_t>& fine_labels);

// Returns a w x h image with `channels` interleaved channels and a deterministic gradient
// pattern seeded by `seed`.
std::vector<uint8_t> MakePattern(int w, int h, int channels, int seed);

// Encodes interleaved pixels as PNG (tensor/image.h's encoder) / JPEG (quality 90) / BMP bytes
// (stb_image_write: the formats the data readers must decode besides PNG).
std::string EncodePng(const std::vector<uint8_t>& pixels, int w, int h, int channels);
std::string EncodeJpeg(const std::vector<uint8_t>& pixels, int w, int h, int channels);
std::string EncodeBmp(const std::vector<uint8_t>& pixels, int w, int h, int channels);

}  // namespace test
}  // namespace simdnet

#endif  // SIMDNET_DATA_TEST_FIXTURES_H_
