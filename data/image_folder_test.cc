// Tests for image decoding and the image-folder data set: formats, channel conversion, resizing,
// the lazy source, and every rejection (corrupt files, caps, empty folders).
#include "data/image_folder.h"

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "data/test_fixtures.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tensor/thread_pool.h"

namespace simdnet {
namespace {

using ::testing::HasSubstr;

// Writes root/{cat,dog}/ with PNG, JPEG and BMP images of various sizes.
std::string MakeFolder(const std::string& name) {
  const std::string root = test::TempDir(name);
  std::filesystem::create_directories(root + "/dog");
  std::filesystem::create_directories(root + "/cat");
  test::WriteFile(root + "/cat/a.png", test::EncodePng(test::MakePattern(8, 8, 3, 1), 8, 8, 3));
  test::WriteFile(root + "/cat/b.JPG", test::EncodeJpeg(test::MakePattern(16, 12, 3, 2), 16, 12, 3));
  test::WriteFile(root + "/cat/notes.txt", "ignored");
  test::WriteFile(root + "/dog/c.bmp", test::EncodeBmp(test::MakePattern(8, 8, 3, 3), 8, 8, 3));
  test::WriteFile(root + "/dog/d.png", test::EncodePng(test::MakePattern(5, 7, 1, 4), 5, 7, 1));
  return root;
}

TEST(DecodeImageTest, DecodesPngExactly) {
  const std::vector<uint8_t> px = test::MakePattern(9, 5, 3, 0);
  auto img = DecodeImage(test::EncodePng(px, 9, 5, 3), "x.png", 3, 1000);
  ASSERT_TRUE(img.ok()) << img.status();
  EXPECT_EQ(img->width, 9);
  EXPECT_EQ(img->height, 5);
  EXPECT_EQ(img->pixels, px);
}

TEST(DecodeImageTest, ConvertsRgbToGray) {
  const std::vector<uint8_t> px(4 * 4 * 3, 100);
  auto img = DecodeImage(test::EncodePng(px, 4, 4, 3), "x.png", 1, 1000);
  ASSERT_TRUE(img.ok()) << img.status();
  EXPECT_EQ(img->channels, 1);
  EXPECT_EQ(img->pixels, std::vector<uint8_t>(16, 100));
}

TEST(DecodeImageTest, RejectsNonImageNamingFile) {
  auto img = DecodeImage("this is not an image at all", "bad.png", 3, 1000);
  ASSERT_FALSE(img.ok());
  EXPECT_EQ(img.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(img.status().message()), HasSubstr("bad.png"));
  EXPECT_FALSE(DecodeImage("", "empty.png", 3, 1000).ok());
}

TEST(DecodeImageTest, RejectsTruncatedPng) {
  const std::string png = test::EncodePng(test::MakePattern(32, 32, 3, 5), 32, 32, 3);
  for (size_t cut : {size_t{8}, size_t{30}, png.size() / 2, png.size() - 13}) {
    auto img = DecodeImage(png.substr(0, cut), "cut.png", 3, 1 << 20);
    ASSERT_FALSE(img.ok()) << "cut " << cut;
    EXPECT_THAT(std::string(img.status().message()), HasSubstr("cut.png"));
  }
}

TEST(DecodeImageTest, RejectsPngChunkLongerThanTheFile) {
  // Found by data/fuzz/image_fuzzer: a 4x4 PNG whose second chunk declares 0x4f0000 bytes made
  // Debian's stb_image realloc far more than the file holds. It must fail cleanly instead.
  std::string png = test::EncodePng(test::MakePattern(4, 4, 1, 0), 4, 4, 1);
  ASSERT_GT(png.size(), 40u);
  png[33] = 0x4f;  // high byte of the length of the chunk after IHDR
  auto img = DecodeImage(png, "long_chunk.png", 1, 1 << 20);
  ASSERT_FALSE(img.ok());
  EXPECT_THAT(std::string(img.status().message()), HasSubstr("long_chunk.png"));
  EXPECT_THAT(std::string(img.status().message()), HasSubstr("declares"));
}

TEST(DecodeImageTest, RejectsJpegScanWithUndefinedHuffmanTable) {
  // Found by data/fuzz/image_fuzzer: a scan naming DC table 2, which no DHT defines, made
  // Debian's stb_image follow an uninitialized pointer.
  std::string jpg = test::EncodeJpeg(test::MakePattern(6, 5, 3, 0), 6, 5, 3);
  size_t sos = jpg.find("\xff\xda");
  ASSERT_NE(sos, std::string::npos);
  ASSERT_TRUE(DecodeImage(jpg, "ok.jpg", 3, 100).ok());
  jpg[sos + 6] = 0x20;  // component 1: DC table 2, AC table 0
  auto img = DecodeImage(jpg, "bad_table.jpg", 3, 100);
  ASSERT_FALSE(img.ok());
  EXPECT_THAT(std::string(img.status().message()), HasSubstr("bad_table.jpg"));
  EXPECT_THAT(std::string(img.status().message()), HasSubstr("undefined Huffman table"));
}

TEST(DecodeImageTest, RejectsJpegSegmentLongerThanTheFile) {
  std::string jpg = test::EncodeJpeg(test::MakePattern(6, 5, 3, 0), 6, 5, 3);
  jpg[4] = 0x7f;  // APP0 length high byte
  auto img = DecodeImage(jpg, "long.jpg", 3, 100);
  ASSERT_FALSE(img.ok());
  EXPECT_THAT(std::string(img.status().message()), HasSubstr("longer than the file"));
}

TEST(DecodeImageTest, RejectsFormatsOutsidePngJpegBmp) {
  // A valid 1x1 binary PGM: stb_image could decode it, but folders only hold PNG/JPEG/BMP.
  const std::string pgm = std::string("P5\n1 1\n255\n") + '\x80';
  auto img = DecodeImage(pgm, "x.png", 1, 100);
  ASSERT_FALSE(img.ok());
  EXPECT_THAT(std::string(img.status().message()), HasSubstr("not a PNG, JPEG or BMP"));
}

// Returns a 24-bit uncompressed BMP (BITMAPINFOHEADER) of `rows` (top row first, RGB, each row
// width * 3 bytes), written byte by byte. top_down stores the rows top first and gives the
// header a negative height, as the format allows; otherwise rows are stored bottom first.
std::string HandWrittenBmp(const std::vector<std::vector<uint8_t>>& rows, int32_t width,
                           bool top_down, int32_t header_height = 0) {
  const int32_t height = static_cast<int32_t>(rows.size());
  const uint32_t stride = (static_cast<uint32_t>(width) * 3 + 3) & ~3u;
  const uint32_t data_bytes = stride * static_cast<uint32_t>(height);
  std::string b;
  auto u16 = [&](uint32_t v) { b += static_cast<char>(v & 0xff); b += static_cast<char>(v >> 8); };
  auto u32 = [&](uint32_t v) { u16(v & 0xffff); u16(v >> 16); };
  b += "BM";
  u32(54 + data_bytes);  // file size
  u32(0);                // reserved
  u32(54);               // pixel data offset
  u32(40);               // BITMAPINFOHEADER size
  u32(static_cast<uint32_t>(width));
  u32(static_cast<uint32_t>(header_height != 0 ? header_height : top_down ? -height : height));
  u16(1);   // planes
  u16(24);  // bits per pixel
  u32(0);   // BI_RGB
  u32(data_bytes);
  u32(2835);  // 72 dpi
  u32(2835);
  u32(0);  // palette colors
  u32(0);  // important colors
  for (int32_t r = 0; r < height; ++r) {
    const std::vector<uint8_t>& row = rows[static_cast<size_t>(top_down ? r : height - 1 - r)];
    for (int32_t x = 0; x < width; ++x) {  // BGR
      b += static_cast<char>(row[static_cast<size_t>(3 * x + 2)]);
      b += static_cast<char>(row[static_cast<size_t>(3 * x + 1)]);
      b += static_cast<char>(row[static_cast<size_t>(3 * x)]);
    }
    b.append(stride - static_cast<uint32_t>(width) * 3, '\0');
  }
  return b;
}

TEST(DecodeImageTest, DecodesTopDownBmpRightWayUp) {
  // 2 x 3: a red row, a green row, a blue row (top to bottom), second column darker.
  const std::vector<std::vector<uint8_t>> rows = {{255, 0, 0, 128, 0, 0},
                                                  {0, 255, 0, 0, 128, 0},
                                                  {0, 0, 255, 0, 0, 128}};
  std::vector<uint8_t> expected;
  for (const auto& row : rows) expected.insert(expected.end(), row.begin(), row.end());
  for (bool top_down : {true, false}) {
    SCOPED_TRACE(top_down ? "top-down" : "bottom-up");
    auto img = DecodeImage(HandWrittenBmp(rows, 2, top_down), "rows.bmp", 3, 100);
    ASSERT_TRUE(img.ok()) << img.status();
    EXPECT_EQ(img->width, 2);
    EXPECT_EQ(img->height, 3);
    EXPECT_EQ(img->pixels, expected);
  }
  // The pixel cap counts the absolute height.
  auto capped = DecodeImage(HandWrittenBmp(rows, 2, true), "rows.bmp", 3, 5);
  ASSERT_FALSE(capped.ok());
  EXPECT_THAT(std::string(capped.status().message()), HasSubstr("2 x 3 = 6 pixels"));
}

TEST(DecodeImageTest, RejectsBmpWithMostNegativeHeight) {
  // -2^31 has no positive counterpart; stb_image would take abs() of it.
  const std::vector<std::vector<uint8_t>> rows = {{1, 2, 3}};
  auto img = DecodeImage(HandWrittenBmp(rows, 1, true, INT32_MIN), "min.bmp", 3, INT64_MAX);
  ASSERT_FALSE(img.ok());
  EXPECT_THAT(std::string(img.status().message()), HasSubstr("min.bmp"));
  EXPECT_THAT(std::string(img.status().message()), HasSubstr("height"));
}

TEST(DecodeImageTest, RejectsTruncatedBmpInsteadOfFillingBlack) {
  const std::vector<std::vector<uint8_t>> rows = {{9, 8, 7, 6, 5, 4, 3, 2, 1},
                                                  {1, 2, 3, 4, 5, 6, 7, 8, 9}};
  const std::string bmp = HandWrittenBmp(rows, 3, false);  // 54 + 2 rows of 12 bytes
  ASSERT_TRUE(DecodeImage(bmp, "full.bmp", 3, 100).ok());
  // The last row may lack its padding; one pixel byte less is truncated.
  ASSERT_TRUE(DecodeImage(bmp.substr(0, bmp.size() - 3), "unpadded.bmp", 3, 100).ok());
  auto img = DecodeImage(bmp.substr(0, bmp.size() - 4), "cut.bmp", 3, 100);
  ASSERT_FALSE(img.ok());
  EXPECT_THAT(std::string(img.status().message()), HasSubstr("cut.bmp"));
  EXPECT_THAT(std::string(img.status().message()), HasSubstr("truncated"));
  // A few header bytes declaring a tall image (as the fuzzer found).
  auto tall = DecodeImage(HandWrittenBmp(rows, 3, false, 60000), "tall.bmp", 3, 1 << 20);
  ASSERT_FALSE(tall.ok());
  EXPECT_THAT(std::string(tall.status().message()), HasSubstr("3 x 60000 pixels"));
}

TEST(DecodeImageTest, EnforcesPixelCapBeforeDecoding) {
  const std::string png = test::EncodePng(test::MakePattern(40, 30, 3, 0), 40, 30, 3);
  auto img = DecodeImage(png, "big.png", 3, 1199);
  ASSERT_FALSE(img.ok());
  EXPECT_THAT(std::string(img.status().message()), HasSubstr("40 x 30"));
  EXPECT_THAT(std::string(img.status().message()), HasSubstr("limit"));
  EXPECT_TRUE(DecodeImage(png, "big.png", 3, 1200).ok());
}

TEST(DecodeImageTest, ResizeToPlanarKeepsConstantImagesConstant) {
  DecodedImage img;
  img.height = 10;
  img.width = 6;
  img.channels = 3;
  for (int p = 0; p < 60; ++p) img.pixels.insert(img.pixels.end(), {10, 128, 250});
  auto planar = ResizeToPlanar(img, 4, 5);
  ASSERT_TRUE(planar.ok());
  ASSERT_EQ(planar->size(), 60u);
  for (int k = 0; k < 20; ++k) {
    EXPECT_EQ((*planar)[k], 10);
    EXPECT_EQ((*planar)[20 + k], 128);
    EXPECT_EQ((*planar)[40 + k], 250);
  }
}

TEST(ImageFolderTest, ListsSortedClassesAndImageFiles) {
  const std::string root = MakeFolder("folder_list");
  auto index = ListImageFolder(root);
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ(index->classes, (std::vector<std::string>{"cat", "dog"}));
  ASSERT_EQ(index->files.size(), 4u);
  EXPECT_THAT(index->files[0], HasSubstr("cat/a.png"));
  EXPECT_THAT(index->files[1], HasSubstr("cat/b.JPG"));
  EXPECT_EQ(index->labels, (std::vector<int32_t>{0, 0, 1, 1}));
}

TEST(ImageFolderTest, LoadsResizesAndConverts) {
  const std::string root = MakeFolder("folder_load");
  ImageFolderOptions opt;
  opt.channels = 3;
  opt.height = 8;
  opt.width = 8;
  auto d = LoadImageFolder(root, opt);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->num, 4);
  EXPECT_EQ(d->sample_shape(), Shape({3, 8, 8}));
  EXPECT_EQ(d->labels, (std::vector<int32_t>{0, 0, 1, 1}));
  // a.png is 8x8 already: pixels arrive unchanged, planar.
  const std::vector<uint8_t> a = test::MakePattern(8, 8, 3, 1);
  for (int p = 0; p < 64; ++p) {
    for (int c = 0; c < 3; ++c) EXPECT_EQ(d->SamplePixels(0)[c * 64 + p], a[p * 3 + c]);
  }
  opt.channels = 1;
  auto gray = LoadImageFolder(root, opt);
  ASSERT_TRUE(gray.ok()) << gray.status();
  EXPECT_EQ(gray->sample_shape(), Shape({1, 8, 8}));
}

TEST(ImageFolderTest, ResultDoesNotDependOnThreadCount) {
  const std::string root = MakeFolder("folder_threads");
  ImageFolderOptions opt;
  opt.height = 6;
  opt.width = 7;
  ThreadPool pool(3);
  auto serial = LoadImageFolder(root, opt);
  auto parallel = LoadImageFolder(root, opt, &pool);
  ASSERT_TRUE(serial.ok() && parallel.ok());
  EXPECT_EQ(serial->pixels, parallel->pixels);
}

TEST(ImageFolderTest, CorruptFileFailsNamingItOrIsSkipped) {
  const std::string root = MakeFolder("folder_corrupt");
  test::WriteFile(root + "/dog/zz_broken.jpg", "garbage, not a jpeg");
  ImageFolderOptions opt;
  auto strict = LoadImageFolder(root, opt);
  ASSERT_FALSE(strict.ok());
  EXPECT_THAT(std::string(strict.status().message()), HasSubstr("zz_broken.jpg"));
  opt.skip_bad_files = true;
  auto lenient = LoadImageFolder(root, opt);
  ASSERT_TRUE(lenient.ok()) << lenient.status();
  EXPECT_EQ(lenient->num, 4);
  ASSERT_EQ(lenient->skipped.size(), 1u);
  EXPECT_THAT(lenient->skipped[0], HasSubstr("zz_broken.jpg"));
}

TEST(ImageFolderTest, AllFilesCorruptIsAnErrorEvenWhenSkipping) {
  const std::string root = test::TempDir("folder_all_bad");
  std::filesystem::create_directories(root + "/a");
  test::WriteFile(root + "/a/x.png", "nope");
  ImageFolderOptions opt;
  opt.skip_bad_files = true;
  auto d = LoadImageFolder(root, opt);
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("x.png"));
}

TEST(ImageFolderTest, RejectsEmptyClassFolder) {
  const std::string root = MakeFolder("folder_empty_class");
  std::filesystem::create_directories(root + "/empty_class");
  test::WriteFile(root + "/empty_class/readme.txt", "no images here");
  auto d = LoadImageFolder(root, ImageFolderOptions());
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("empty_class"));
}

TEST(ImageFolderTest, RejectsMissingRootAndRootWithoutClasses) {
  auto missing = LoadImageFolder("/nonexistent/images", ImageFolderOptions());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  const std::string flat = test::TempDir("folder_flat");
  test::WriteFile(flat + "/a.png", test::EncodePng(test::MakePattern(2, 2, 3, 0), 2, 2, 3));
  auto no_classes = LoadImageFolder(flat, ImageFolderOptions());
  ASSERT_FALSE(no_classes.ok());
  EXPECT_THAT(std::string(no_classes.status().message()), HasSubstr("no class sub-folders"));
}

TEST(ImageFolderTest, RejectsBadOptions) {
  const std::string root = MakeFolder("folder_opts");
  ImageFolderOptions opt;
  opt.channels = 2;
  EXPECT_THAT(std::string(LoadImageFolder(root, opt).status().message()), HasSubstr("channels"));
  opt = ImageFolderOptions();
  opt.height = 0;
  EXPECT_THAT(std::string(LoadImageFolder(root, opt).status().message()), HasSubstr("height"));
  opt = ImageFolderOptions();
  opt.max_pixels = 0;
  EXPECT_THAT(std::string(LoadImageFolder(root, opt).status().message()), HasSubstr("max_pixels"));
}

TEST(ImageFolderTest, PixelCapAppliesPerFile) {
  const std::string root = MakeFolder("folder_cap");
  ImageFolderOptions opt;
  opt.max_pixels = 100;  // b.JPG is 16 x 12 = 192 pixels
  auto d = LoadImageFolder(root, opt);
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("b.JPG"));
}

TEST(ImageFolderSourceTest, LazySourceMatchesEagerLoad) {
  const std::string root = MakeFolder("folder_lazy");
  ImageFolderOptions opt;
  opt.height = 5;
  opt.width = 5;
  auto eager = LoadImageFolder(root, opt);
  auto lazy = ImageFolderSource::Create(root, opt);
  ASSERT_TRUE(eager.ok() && lazy.ok());
  ASSERT_EQ((*lazy)->size(), eager->size());
  EXPECT_EQ((*lazy)->class_names(), eager->class_names());
  std::vector<float> a(75), b(75);
  for (int64_t i = 0; i < eager->size(); ++i) {
    ASSERT_TRUE(eager->ReadSample(i, a.data()).ok());
    ASSERT_TRUE((*lazy)->ReadSample(i, b.data()).ok());
    EXPECT_EQ(a, b) << "sample " << i;
    EXPECT_EQ((*lazy)->label(i), eager->label(i));
  }
}

TEST(ImageFolderSourceTest, LazySourceReportsCorruptFile) {
  const std::string root = MakeFolder("folder_lazy_bad");
  test::WriteFile(root + "/cat/a.png", "corrupted after listing");
  auto lazy = ImageFolderSource::Create(root, ImageFolderOptions());
  ASSERT_TRUE(lazy.ok());
  std::vector<float> out(3 * 32 * 32);
  const absl::Status s = (*lazy)->ReadSample(0, out.data());
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("cat/a.png"));
}

}  // namespace
}  // namespace simdnet
