// Fixture writers for the data tests and benchmarks.
#include "data/test_fixtures.h"

#include <sys/stat.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <stb/stb_image_write.h>

#include "absl/strings/str_cat.h"
#include "tensor/image.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace test {
namespace {

void AppendToString(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data),
                                             static_cast<size_t>(size));
}

}  // namespace

std::string TempDir(absl::string_view name) {
  const char* base = std::getenv("TEST_TMPDIR");
  const std::string dir = absl::StrCat(base ? base : "/tmp", "/", name);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directories(dir, ec);
  SIMDNET_CHECK(!ec);
  return dir;
}

std::string MakeIdx(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& payload) {
  std::string out = {0, 0, 8, static_cast<char>(dims.size())};
  for (uint32_t d : dims) {
    out.push_back(static_cast<char>(d >> 24));
    out.push_back(static_cast<char>(d >> 16));
    out.push_back(static_cast<char>(d >> 8));
    out.push_back(static_cast<char>(d));
  }
  out.append(payload.begin(), payload.end());
  return out;
}

std::string Gzip(absl::string_view bytes) {
  z_stream zs;
  std::memset(&zs, 0, sizeof(zs));
  SIMDNET_CHECK(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&zs, bytes.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  zs.avail_in = static_cast<uInt>(bytes.size());
  zs.next_out = reinterpret_cast<Bytef*>(&out[0]);
  zs.avail_out = static_cast<uInt>(out.size());
  SIMDNET_CHECK(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

void WriteFile(const std::string& path, absl::string_view bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  SIMDNET_CHECK(f != nullptr);
  SIMDNET_CHECK(std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size());
  SIMDNET_CHECK(std::fclose(f) == 0);
}

std::string MakeCifarRecords(const std::vector<uint8_t>& labels,
                             const std::vector<uint8_t>& fine_labels) {
  std::string out;
  for (size_t i = 0; i < labels.size(); ++i) {
    out.push_back(static_cast<char>(labels[i]));
    if (!fine_labels.empty()) out.push_back(static_cast<char>(fine_labels[i]));
    for (int k = 0; k < 3072; ++k) out.push_back(static_cast<char>((i + k) % 251));
  }
  return out;
}

std::vector<uint8_t> MakePattern(int w, int h, int channels, int seed) {
  std::vector<uint8_t> px(static_cast<size_t>(w) * h * channels);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      for (int c = 0; c < channels; ++c) {
        px[(static_cast<size_t>(y) * w + x) * channels + c] =
            static_cast<uint8_t>((x * (3 + c) + y * (5 + seed) + 40 * c + 17 * seed) % 256);
      }
    }
  }
  return px;
}

std::string EncodePng(const std::vector<uint8_t>& pixels, int w, int h, int channels) {
  Image image;
  image.width = w;
  image.height = h;
  image.channels = channels;
  image.pixels = pixels;
  absl::StatusOr<std::string> png = simdnet::EncodePng(image);
  SIMDNET_CHECK(png.ok());
  return *std::move(png);
}

std::string EncodeJpeg(const std::vector<uint8_t>& pixels, int w, int h, int channels) {
  std::string out;
  SIMDNET_CHECK(stbi_write_jpg_to_func(AppendToString, &out, w, h, channels, pixels.data(), 90) !=
                0);
  return out;
}

std::string EncodeBmp(const std::vector<uint8_t>& pixels, int w, int h, int channels) {
  std::string out;
  SIMDNET_CHECK(stbi_write_bmp_to_func(AppendToString, &out, w, h, channels, pixels.data()) != 0);
  return out;
}

}  // namespace test
}  // namespace simdnet
