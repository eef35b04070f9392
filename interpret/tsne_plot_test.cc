// Tests of interpret/tsne_plot: class colors at the points, legend and title present, thumbnails
// drawn with a class-colored border, and every rejection naming its field.
#include "interpret/tsne_plot.h"

#include <cstdint>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "train/plot.h"

namespace simdnet {
namespace {

int64_t CountColor(const Image& image, Rgb c, int x0, int y0, int x1, int y1) {
  int64_t count = 0;
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) count += image.Get(x, y) == c;
  return count;
}

// Three classes: clusters at the left, right and top of the plot.
void ThreeClusters(std::vector<float>* xy, std::vector<int32_t>* labels) {
  for (int i = 0; i < 30; ++i) {
    const int c = i % 3;
    const float jitter = 0.01f * static_cast<float>(i);
    xy->push_back(c == 0 ? -1.0f + jitter : (c == 1 ? 1.0f - jitter : jitter));
    xy->push_back(c == 2 ? 1.0f - jitter : -1.0f + jitter);
    labels->push_back(c);
  }
}

TEST(TsnePlotTest, DrawsClassColorsLegendAndTitle) {
  std::vector<float> xy;
  std::vector<int32_t> labels;
  ThreeClusters(&xy, &labels);
  ScatterOptions options;
  options.width = 400;
  options.height = 300;
  options.title = "t-SNE test";
  absl::StatusOr<Image> image = RenderScatter(xy, labels, {"shirt", "shoe", "bag"}, options);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->width, 400);
  EXPECT_EQ(image->height, 300);
  EXPECT_EQ(image->Get(0, 0), (Rgb{255, 255, 255}));
  // The legend ("shirt", "shoe", "bag" at scale 2) takes x >= 272; the plot is x in [20, 252).
  for (int c = 0; c < 3; ++c) {
    EXPECT_GT(CountColor(*image, ClassColor(c), 0, 60, 260, 300), 20) << "class " << c;
    EXPECT_GT(CountColor(*image, ClassColor(c), 260, 60, 400, 300), 20) << "legend " << c;
  }
  // Class 0 sits bottom-left, class 1 bottom-right, class 2 at the top (y up).
  const int w = image->width;
  EXPECT_GT(CountColor(*image, ClassColor(0), 0, 170, 136, 300), 20);
  EXPECT_EQ(CountColor(*image, ClassColor(0), 0, 0, 260, 170), 0);
  EXPECT_EQ(CountColor(*image, ClassColor(0), 136, 0, 260, 300), 0);
  EXPECT_GT(CountColor(*image, ClassColor(1), 136, 170, 260, 300), 20);
  EXPECT_GT(CountColor(*image, ClassColor(2), 0, 0, 260, 170), 20);
  // Title text (dark pixels) in the top band; legend text next to the swatches.
  EXPECT_GT(CountColor(*image, Rgb{30, 30, 30}, 0, 0, w, 45), 50);
  EXPECT_GT(CountColor(*image, Rgb{30, 30, 30}, 280, 60, 400, 150), 50);
}

TEST(TsnePlotTest, DrawsThumbnailsWithClassBorder) {
  std::vector<float> xy;
  std::vector<int32_t> labels;
  ThreeClusters(&xy, &labels);
  ScatterOptions options;
  options.width = 400;
  options.height = 400;
  options.thumb_channels = 1;
  options.thumb_height = 8;
  options.thumb_width = 8;
  options.thumbnail_scale = 2;
  options.thumbnails.assign(30 * 64, 77);  // Uniform gray 77 images.
  absl::StatusOr<Image> image = RenderScatter(xy, labels, {}, options);
  ASSERT_TRUE(image.ok()) << image.status();
  const int64_t gray = CountColor(*image, Rgb{77, 77, 77}, 0, 0, 400, 400);
  EXPECT_GE(gray, 3 * 16 * 16);    // At least one 16x16 thumbnail per cluster.
  EXPECT_EQ(gray % (16 * 16), 0);  // Whole thumbnails only: none overlaps another.
  options.max_thumbnails = 0;
  image = RenderScatter(xy, labels, {}, options);
  ASSERT_TRUE(image.ok());
  EXPECT_EQ(CountColor(*image, Rgb{77, 77, 77}, 0, 0, 400, 400), 0);
}

void ExpectRejected(const std::vector<float>& xy, const std::vector<int32_t>& labels,
                    const std::vector<std::string>& names, const ScatterOptions& options,
                    const std::string& needle) {
  absl::StatusOr<Image> image = RenderScatter(xy, labels, names, options);
  ASSERT_FALSE(image.ok()) << needle;
  EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(image.status().message().find(needle), std::string::npos)
      << "message \"" << image.status().message() << "\" lacks \"" << needle << "\"";
}

TEST(TsnePlotTest, RejectsInvalidInput) {
  const ScatterOptions ok;
  ExpectRejected({0, 0, 1}, {0, 1}, {}, ok, "xy has 3 values, expected 2 * labels.size() = 4");
  ExpectRejected({}, {}, {}, ok, "no points");
  ExpectRejected({0, 0, 1, 1}, {0, -1}, {}, ok, "label of point 1 is -1");
  ExpectRejected({0, 0, 1, 1}, {0, 2}, {"a", "b"}, ok, "label of point 1 is 2, expected [0, 2)");
  ExpectRejected({0, 0, 1, 1.0f / 0.0f}, {0, 1}, {}, ok, "xy of point 1 is not finite");
  ScatterOptions o = ok;
  o.width = 100;
  ExpectRejected({0, 0}, {0}, {}, o, "width must be in [200, 4096]");
  o = ok;
  o.height = 5000;
  ExpectRejected({0, 0}, {0}, {}, o, "height must be in [200, 4096]");
  o = ok;
  o.point_radius = 0;
  ExpectRejected({0, 0}, {0}, {}, o, "point_radius");
  o = ok;
  o.thumbnails.assign(10, 0);
  o.thumb_channels = 2;
  o.thumb_height = o.thumb_width = 2;
  ExpectRejected({0, 0}, {0}, {}, o, "thumb_channels must be 1 or 3");
  o.thumb_channels = 3;
  ExpectRejected({0, 0}, {0}, {}, o, "thumbnails has 10 bytes, expected");
  o.thumbnails.assign(12, 0);
  o.thumbnail_scale = 9;
  ExpectRejected({0, 0}, {0}, {}, o, "thumbnail_scale");
}

}  // namespace
}  // namespace simdnet
