// Tests for the SVG line charts (ticks, curve placement and orientation, gaps, legend colors and
// escaping, standalone files, argument errors) and the bitmap font.
#include "train/plot.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tensor/atomic_file.h"

namespace simdnet {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Box {
  int x0 = 1 << 30, y0 = 1 << 30, x1 = -1, y1 = -1;
  int64_t count = 0;
};

// Returns the bounding box and count of pixels of exactly color c.
Box FindColor(const Image& img, Rgb c, int x_from = 0, int x_to = -1) {
  Box b;
  if (x_to < 0) x_to = img.width - 1;
  for (int y = 0; y < img.height; ++y) {
    for (int x = x_from; x <= x_to; ++x) {
      if (img.Get(x, y) != c) continue;
      b.x0 = std::min(b.x0, x);
      b.x1 = std::max(b.x1, x);
      b.y0 = std::min(b.y0, y);
      b.y1 = std::max(b.y1, y);
      ++b.count;
    }
  }
  return b;
}

TEST(NiceTicksTest, PicksOneTwoFiveSteps) {
  EXPECT_EQ(NiceTicks(0, 1, 5), (std::vector<double>{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1}));
  const std::vector<double> t = NiceTicks(0.013, 0.087, 5);
  ASSERT_EQ(t.size(), 6u);
  EXPECT_DOUBLE_EQ(t.front(), 0.0);
  EXPECT_DOUBLE_EQ(t[1], 0.02);
  EXPECT_DOUBLE_EQ(t.back(), 0.1);
  EXPECT_EQ(NiceTicks(1, 10, 5), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(NiceTicks(-3, 7, 2), (std::vector<double>{-5, 0, 5, 10}));
}

TEST(NiceTicksTest, IntegerStepsForEpochAxes) {
  EXPECT_EQ(NiceTicks(1, 1, 6, true), (std::vector<double>{0, 1, 2}));
  EXPECT_EQ(NiceTicks(1, 3, 6, true), (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(NiceTicks(1, 3, 6, false), (std::vector<double>{1, 1.5, 2, 2.5, 3}));
  EXPECT_EQ(NiceTicks(0, 100, 5, true), (std::vector<double>{0, 20, 40, 60, 80, 100}));
}

TEST(NiceTicksTest, WidensDegenerateRanges) {
  const std::vector<double> t = NiceTicks(2.5, 2.5, 4);
  EXPECT_LT(t.front(), 2.5);
  EXPECT_GT(t.back(), 2.5);
  const std::vector<double> z = NiceTicks(0, 0, 4);
  EXPECT_LT(z.front(), 0.0);
  EXPECT_GT(z.back(), 0.0);
  const std::vector<double> n = NiceTicks(kNaN, 1, 4);
  EXPECT_EQ(n.front(), 0.0);
  EXPECT_EQ(n.back(), 1.0);
}

// Returns the number of non-overlapping occurrences of `needle` in `s`.
int Count(const std::string& s, const std::string& needle) {
  int n = 0;
  for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + needle.size())) {
    ++n;
  }
  return n;
}

// Returns the (x, y) pixel points of the first curve polyline in `color` (series polylines
// have stroke-width 2; the axes polyline has none).
std::vector<std::pair<double, double>> CurvePoints(const std::string& svg, Rgb color,
                                                   int which = 0) {
  const std::string color_attr =
      absl::StrFormat("stroke=\"#%02x%02x%02x\" stroke-width=\"2\"", color.r, color.g, color.b);
  size_t at = 0;
  for (int i = 0; i <= which; ++i) {
    at = svg.find(color_attr, i == 0 ? 0 : at + 1);
    if (at == std::string::npos) return {};
  }
  const size_t start = svg.rfind("points=\"", at) + 8;
  const size_t end = svg.find('"', start);
  std::vector<std::pair<double, double>> out;
  for (absl::string_view p : absl::StrSplit(svg.substr(start, end - start), ' ')) {
    std::pair<absl::string_view, absl::string_view> xy = absl::StrSplit(p, ',');
    double x = 0, y = 0;
    EXPECT_TRUE(absl::SimpleAtod(xy.first, &x) && absl::SimpleAtod(xy.second, &y)) << p;
    out.emplace_back(x, y);
  }
  return out;
}

TEST(SvgPlotTest, HorizontalLineIsFlatAndSpansThePlot) {
  PlotSeries s{"flat", {0, 1, 2, 3, 4}, {0.5, 0.5, 0.5, 0.5, 0.5}};
  auto svg = RenderLinePlotSvg({s}, PlotOptions());
  ASSERT_TRUE(svg.ok()) << svg.status();
  EXPECT_TRUE(absl::StartsWith(*svg, "<svg width=\"640\" height=\"400\""));
  EXPECT_TRUE(absl::EndsWith(*svg, "</svg>\n"));
  const auto pts = CurvePoints(*svg, SeriesColor(0));
  ASSERT_EQ(pts.size(), 5u);
  for (const auto& [x, y] : pts) EXPECT_EQ(y, pts[0].second);
  EXPECT_GT(pts[0].second, 400 / 4);
  EXPECT_LT(pts[0].second, 400 * 3 / 4);
  EXPECT_GT(pts.back().first - pts.front().first, 640 * 3 / 4);
}

TEST(SvgPlotTest, IncreasingSeriesRisesToTheRight) {
  PlotSeries s{"", {1, 2, 3, 4, 5}, {0.1, 0.3, 0.5, 0.7, 0.9}};
  auto svg = RenderLinePlotSvg({s}, PlotOptions());
  ASSERT_TRUE(svg.ok());
  const auto pts = CurvePoints(*svg, SeriesColor(0));
  ASSERT_EQ(pts.size(), 5u);
  for (size_t i = 1; i < pts.size(); ++i) {
    EXPECT_GT(pts[i].first, pts[i - 1].first);
    EXPECT_LT(pts[i].second, pts[i - 1].second) << "larger y must be drawn higher";
  }
}

TEST(SvgPlotTest, NaNBreaksTheLineAndLonePointsAreSquares) {
  PlotSeries s{"", {0, 1, 2, 3, 4, 5, 6}, {1, 1, 1, kNaN, 1, 1, 1}};
  auto svg = RenderLinePlotSvg({s}, PlotOptions());
  ASSERT_TRUE(svg.ok());
  EXPECT_EQ(CurvePoints(*svg, SeriesColor(0), 0).size(), 3u);
  EXPECT_EQ(CurvePoints(*svg, SeriesColor(0), 1).size(), 3u);
  auto one = RenderLinePlotSvg({PlotSeries{"", {1}, {0.5}}}, PlotOptions());
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(Count(*one, "width=\"4\" height=\"4\" fill=\"#1f77b4\""), 1);
}

TEST(SvgPlotTest, SeveralSeriesGetDistinctColorsAndAnEscapedLegend) {
  std::vector<PlotSeries> s = {{"train <loss>", {1, 2, 3}, {2.0, 1.0, 0.5}},
                               {"test & loss", {1, 2, 3}, {2.1, 1.3, 0.9}},
                               {"lr", {1, 2, 3}, {0.1, 0.1, 0.1}}};
  PlotOptions o;
  o.title = "Loss \"curves\"";
  o.x_label = "epoch";
  o.y_label = "loss";
  auto svg = RenderLinePlotSvg(s, o);
  ASSERT_TRUE(svg.ok());
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(CurvePoints(*svg, SeriesColor(i)).size(), 3u) << i;
  EXPECT_TRUE(absl::StrContains(*svg, ">train &lt;loss&gt;</text>"));
  EXPECT_TRUE(absl::StrContains(*svg, ">test &amp; loss</text>"));
  EXPECT_TRUE(absl::StrContains(*svg, "<title>Loss &quot;curves&quot;</title>"));
  EXPECT_TRUE(absl::StrContains(*svg, "rotate(-90"));  // the y label
  EXPECT_FALSE(absl::StrContains(*svg, "<loss>"));
  EXPECT_NE(SeriesColor(0), SeriesColor(1));
  EXPECT_EQ(SeriesColor(8), SeriesColor(0));
}

TEST(SvgPlotTest, LogAxisSkipsNonPositiveValuesAndLabelsDecades) {
  PlotSeries s{"lr", {0, 1, 2, 3}, {0.1, 0.01, 0.0, 0.001}};
  PlotOptions o;
  o.log_y = true;
  auto svg = RenderLinePlotSvg({s}, o);
  ASSERT_TRUE(svg.ok()) << svg.status();
  EXPECT_EQ(CurvePoints(*svg, SeriesColor(0), 0).size(), 2u);
  EXPECT_TRUE(absl::StrContains(*svg, "1e-3") || absl::StrContains(*svg, "0.001")) << *svg;
}

TEST(SvgPlotTest, EmptySeriesRenderAndBadArgumentsAreNamed) {
  EXPECT_TRUE(RenderLinePlotSvg({}, PlotOptions()).ok());
  EXPECT_TRUE(RenderLinePlotSvg({PlotSeries{"none", {}, {}}}, PlotOptions()).ok());
  auto r = RenderLinePlotSvg({PlotSeries{"acc", {1, 2}, {1}}}, PlotOptions());
  EXPECT_TRUE(absl::IsInvalidArgument(r.status()));
  EXPECT_TRUE(absl::StrContains(r.status().message(), "'acc' has 2 x values but 1 y values"));
  PlotOptions o;
  o.width = 10;
  EXPECT_TRUE(absl::StrContains(RenderLinePlotSvg({}, o).status().message(), "width 10"));
  o.width = 640;
  o.height = 100000;
  EXPECT_TRUE(absl::StrContains(RenderLinePlotSvg({}, o).status().message(), "height 100000"));
}

TEST(SvgPlotTest, WritesAStandaloneSvgFile) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string path = absl::StrCat(tmp ? tmp : "/tmp", "/loss.svg");
  ASSERT_TRUE(WriteLinePlotSvg(path, {PlotSeries{"a", {0, 1}, {0, 1}}}, PlotOptions()).ok());
  auto bytes = ReadFile(path);
  ASSERT_TRUE(bytes.ok());
  EXPECT_TRUE(absl::StartsWith(*bytes,
                               "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\""))
      << bytes->substr(0, 120);
  EXPECT_FALSE(WriteSvgFile(path, "<html>").ok());
}

}  // namespace
}  // namespace simdnet
