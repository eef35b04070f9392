// Tests for the HTML report: every section present, self-contained (no network references),
// escaping, embedded PNGs that decode to the expected sizes, image/filter conversion, errors.
#include "train/report.h"

#include <cmath>
#include <cstdlib>
#include <regex>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "stb/stb_image.h"
#include "tensor/atomic_file.h"

namespace simdnet {
namespace {

int CountOccurrences(const std::string& s, const std::string& needle) {
  int n = 0;
  for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + 1)) ++n;
  return n;
}

// Returns the decoded PNGs of every data URI in `html`, as (width, height) pairs.
std::vector<std::pair<int, int>> EmbeddedPngSizes(const std::string& html) {
  std::vector<std::pair<int, int>> sizes;
  const std::string prefix = "data:image/png;base64,";
  for (size_t p = html.find(prefix); p != std::string::npos; p = html.find(prefix, p + 1)) {
    const size_t begin = p + prefix.size();
    const size_t end = html.find('"', begin);
    std::string png;
    EXPECT_TRUE(absl::Base64Unescape(html.substr(begin, end - begin), &png));
    int w = 0, h = 0, c = 0;
    unsigned char* px = stbi_load_from_memory(reinterpret_cast<const unsigned char*>(png.data()),
                                              static_cast<int>(png.size()), &w, &h, &c, 3);
    EXPECT_NE(px, nullptr) << "embedded image does not decode";
    stbi_image_free(px);
    sizes.push_back({w, h});
  }
  return sizes;
}

ReportData FullReport() {
  ReportData d;
  d.title = "Fashion <MNIST> run";
  d.generated_at = "2026-11-29T17:00:00Z";
  d.model_summary = "conv2d(1->8, 3x3) -> relu -> linear(8*26*26 -> 3)";
  d.hyperparameters = {{"optimizer", "sgd"}, {"lr", "0.1"}, {"batch_size", "64"}};
  d.run_info = {{"simd_target", "AVX2"}, {"threads", "2"}};
  d.class_names = {"cat", "dog & wolf", "<bird>"};
  for (int e = 1; e <= 5; ++e) {
    EpochRecord r;
    r.epoch = e;
    r.train_loss = 1.0 / e;
    r.test_loss = 1.2 / e;
    r.train_accuracy = 0.5 + 0.08 * e;
    r.test_accuracy = 0.45 + 0.08 * e;
    r.learning_rate = 0.1 * std::pow(0.1, e - 1);
    r.epoch_seconds = 3;
    r.images_per_second = 2000;
    d.epochs.push_back(r);
  }
  for (int s = 1; s <= 50; ++s) {
    IterationRecord it;
    it.step = s;
    it.loss = 2.0 / s;
    d.iterations.push_back(it);
  }
  d.confusion = *ConfusionMatrix::Create(3);
  EXPECT_TRUE(d.confusion->Add({0, 0, 0, 1, 1, 2, 2, 2}, {0, 0, 1, 1, 2, 2, 2, 0}).ok());
  for (int k = 0; k < 3; ++k) {
    ReportExample ex;
    ex.image = Tensor(Shape({1, 8, 8}));
    for (int64_t i = 0; i < 64; ++i) ex.image[i] = static_cast<float>(i % 9) * (k + 1);
    ex.true_label = k;
    ex.predicted_label = (k + 1) % 3;
    ex.confidence = 0.75;
    d.misclassified.push_back(ex);
  }
  d.first_layer_filters = Tensor(Shape({8, 1, 3, 3}));
  for (int64_t i = 0; i < d.first_layer_filters.size(); ++i) {
    d.first_layer_filters[i] = std::sin(static_cast<float>(i));
  }
  d.final_test_accuracy = 0.8523;
  d.final_test_loss = 0.24;
  d.wall_time_seconds = 3725;
  return d;
}

TEST(ReportTest, ContainsEverySection) {
  auto html = RenderHtmlReport(FullReport());
  ASSERT_TRUE(html.ok()) << html.status();
  const std::string& h = *html;
  EXPECT_TRUE(absl::StartsWith(h, "<!DOCTYPE html>"));
  EXPECT_TRUE(absl::EndsWith(h, "</html>\n"));
  EXPECT_EQ(CountOccurrences(h, "<body>"), 1);
  EXPECT_EQ(CountOccurrences(h, "</body>"), 1);
  EXPECT_EQ(CountOccurrences(h, "<table"), CountOccurrences(h, "</table>"));
  EXPECT_EQ(CountOccurrences(h, "<tr>"), CountOccurrences(h, "</tr>"));
  for (const char* s :
       {"Training curves", "Confusion matrix", "Misclassified test images", "First-layer filters",
        "Hyper-parameters", "<h2>Model</h2>", "<h2>Run</h2>", "85.23%", "1:02:05", "AVX2",
        "batch_size", "conv2d(1-&gt;8, 3x3)", "best test accuracy (epoch 5)", "Showing 3 of 3"}) {
    EXPECT_TRUE(absl::StrContains(h, s)) << "missing: " << s;
  }
}

TEST(ReportTest, IsSelfContained) {
  const std::string h = *RenderHtmlReport(FullReport());
  EXPECT_FALSE(absl::StrContains(h, "http://"));
  EXPECT_FALSE(absl::StrContains(h, "https://"));
  EXPECT_FALSE(absl::StrContains(h, "<script"));
  EXPECT_FALSE(absl::StrContains(h, "<link"));
  // Every <img> is an embedded data URI.
  EXPECT_EQ(CountOccurrences(h, "<img"), CountOccurrences(h, "src=\"data:image/png;base64,"));
}

TEST(ReportTest, EmbedsDecodablePngsOfExpectedSizes) {
  const std::string h = *RenderHtmlReport(FullReport());
  const auto sizes = EmbeddedPngSizes(h);
  // 3 examples + 1 filter grid (the curves are inline SVG).
  ASSERT_EQ(sizes.size(), 4u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(sizes[i], std::make_pair(64, 64));  // 8x8 at scale 8.
  // 8 gray 3x3 filters at scale 13, pad 2, in a 3x3 grid: 2 + 3 * (39 + 2) = 125.
  EXPECT_EQ(sizes[3], std::make_pair(125, 125));
}

TEST(ReportTest, CurvesAreInlineSvgWithTitlesAndLegends) {
  const std::string h = *RenderHtmlReport(FullReport());
  // 4 curves: loss, accuracy, learning rate, per-iteration loss.
  EXPECT_EQ(CountOccurrences(h, "<svg width=\"520\" height=\"340\""), 4);
  EXPECT_EQ(CountOccurrences(h, "<svg"), CountOccurrences(h, "</svg>"));
  for (const char* title : {"<title>Loss</title>", "<title>Accuracy</title>",
                            "<title>Learning rate</title>",
                            "<title>Training loss per iteration</title>"}) {
    EXPECT_TRUE(absl::StrContains(h, title)) << title;
  }
  EXPECT_TRUE(absl::StrContains(h, ">train</text>"));
  EXPECT_TRUE(absl::StrContains(h, ">test</text>"));
  EXPECT_GE(CountOccurrences(h, "<polyline points="), 4 + 5);  // axes + curves
}

TEST(ReportTest, EscapesUserText) {
  const std::string h = *RenderHtmlReport(FullReport());
  EXPECT_TRUE(absl::StrContains(h, "<title>Fashion &lt;MNIST&gt; run</title>"));
  EXPECT_TRUE(absl::StrContains(h, "dog &amp; wolf"));
  EXPECT_TRUE(absl::StrContains(h, "&lt;bird&gt;"));
  EXPECT_FALSE(absl::StrContains(h, "<bird>"));
  EXPECT_EQ(HtmlEscape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
}

TEST(ReportTest, ConfusionTableHasCountsShadesAndPerClassAccuracy) {
  const std::string h = *RenderHtmlReport(FullReport());
  // Row "cat": 2 correct of 3 -> 66.67%; the diagonal cell is green.
  EXPECT_TRUE(absl::StrContains(h, "title=\"true cat, predicted cat: 2 (66.67%)\">2</td>")) << h;
  EXPECT_TRUE(absl::StrContains(h, "background:rgba(44,160,44,0.627)"));
  EXPECT_TRUE(absl::StrContains(h, "title=\"true cat, predicted dog &amp; wolf: 1 (33.33%)\">1"));
  EXPECT_TRUE(absl::StrContains(h, "background:rgba(214,39,40,0.353)"));
  EXPECT_TRUE(absl::StrContains(h, "Overall accuracy 62.50% on 8 images"));
  EXPECT_TRUE(absl::StrContains(h, "<td>66.67%</td>"));
  // Zero cells are not shaded.
  EXPECT_TRUE(absl::StrContains(h, "rgba(214,39,40,0.000)"));
}

TEST(ReportTest, ManyClassesGetHeatmapInsteadOfTable) {
  ReportData d;
  d.confusion = *ConfusionMatrix::Create(200);
  std::vector<int64_t> truth, pred;
  for (int64_t i = 0; i < 200; ++i) {
    truth.push_back(i);
    pred.push_back(i % 2 == 0 ? i : (i + 1) % 200);  // Odd classes always wrong.
  }
  ASSERT_TRUE(d.confusion->Add(truth, pred).ok());
  const std::string h = *RenderHtmlReport(d);
  EXPECT_FALSE(absl::StrContains(h, "class=\"cm\""));
  EXPECT_LT(h.size(), 200000u) << "no 40000-cell table";
  const auto sizes = EmbeddedPngSizes(h);
  ASSERT_EQ(sizes.size(), 1u);
  EXPECT_EQ(sizes[0], std::make_pair(800, 800));  // 200 classes x 4-pixel cells.
  EXPECT_TRUE(absl::StrContains(h, "<tr><td>0</td><td>100.00%</td><td>1</td></tr>"));
  EXPECT_TRUE(absl::StrContains(h, "<tr><td>1</td><td>0.00%</td><td>1</td></tr>"));
}

TEST(ReportTest, MinimalReportOmitsEmptySections) {
  ReportData d;
  auto html = RenderHtmlReport(d);
  ASSERT_TRUE(html.ok()) << html.status();
  EXPECT_FALSE(absl::StrContains(*html, "<img"));
  EXPECT_FALSE(absl::StrContains(*html, "Confusion"));
  EXPECT_TRUE(absl::StrContains(*html, "n/a"));
}

TEST(ReportTest, CapsMisclassifiedExamples) {
  ReportData d = FullReport();
  d.max_examples = 2;
  const std::string h = *RenderHtmlReport(d);
  EXPECT_TRUE(absl::StrContains(h, "Showing 2 of 3"));
  EXPECT_EQ(CountOccurrences(h, "<figcaption>"), 2);
}

TEST(ReportTest, RejectsInconsistentInputNamingField) {
  ReportData d = FullReport();
  d.class_names.pop_back();
  auto s = RenderHtmlReport(d).status();
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_TRUE(absl::StrContains(s.message(), "class_names has 2 entries")) << s;

  d = FullReport();
  d.misclassified[1].predicted_label = 3;
  s = RenderHtmlReport(d).status();
  EXPECT_TRUE(absl::StrContains(s.message(), "misclassified[1].predicted_label = 3")) << s;

  d = FullReport();
  d.misclassified[2].image = Tensor(Shape({2, 4, 4}));
  s = RenderHtmlReport(d).status();
  EXPECT_TRUE(absl::StrContains(s.message(), "misclassified[2]")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "(2, 4, 4)")) << s;

  d = FullReport();
  d.first_layer_filters = Tensor(Shape({8, 9}));
  s = RenderHtmlReport(d).status();
  EXPECT_TRUE(absl::StrContains(s.message(), "first_layer_filters")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "rank 4")) << s;
}

TEST(ReportTest, WritesFileAtomically) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string path = absl::StrCat(tmp ? tmp : "/tmp", "/report.html");
  ASSERT_TRUE(WriteHtmlReport(path, FullReport()).ok());
  auto bytes = ReadFile(path);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(*bytes, *RenderHtmlReport(FullReport()));  // Deterministic.
  EXPECT_FALSE(WriteHtmlReport("/nonexistent_dir/report.html", FullReport()).ok());
  // Keep a sample for people to open (bazel-testlogs/train/report_test/test.outputs/).
  if (const char* out = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR")) {
    EXPECT_TRUE(WriteHtmlReport(absl::StrCat(out, "/sample_report.html"), FullReport()).ok());
  }
}

TEST(TensorToImageTest, NormalizesGrayAndRgb) {
  Tensor g = *Tensor::FromVector(Shape({1, 2, 2}), {0, 1, 2, 3});
  Image img = *TensorToImage(g);
  EXPECT_EQ(img.width, 2);
  EXPECT_EQ(img.Get(0, 0), (Rgb{0, 0, 0}));
  EXPECT_EQ(img.Get(1, 0), (Rgb{85, 85, 85}));
  EXPECT_EQ(img.Get(1, 1), (Rgb{255, 255, 255}));
  Tensor c = *Tensor::FromVector(Shape({3, 1, 2}), {1, 0, 0, 1, 0.5f, 0.5f});
  Image rgb = *TensorToImage(c, 2);
  EXPECT_EQ(rgb.width, 4);
  EXPECT_EQ(rgb.height, 2);
  EXPECT_EQ(rgb.Get(0, 0), (Rgb{255, 0, 128}));
  EXPECT_EQ(rgb.Get(3, 1), (Rgb{0, 255, 128}));
  Tensor flat = *Tensor::FromVector(Shape({2, 2}), {5, 5, 5, 5});
  EXPECT_EQ(TensorToImage(flat)->Get(1, 1), (Rgb{128, 128, 128}));
}

TEST(TensorToImageTest, RejectsBadShapesAndScales) {
  EXPECT_TRUE(absl::IsInvalidArgument(TensorToImage(Tensor(Shape({4}))).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(TensorToImage(Tensor(Shape({2, 3, 3}))).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(TensorToImage(Tensor(Shape({0, 3}))).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(TensorToImage(Tensor(Shape({3, 3})), 0).status()));
}

TEST(FilterGridTest, LaysOutGrayAndRgbTiles) {
  Tensor f(Shape({2, 1, 3, 3}));
  for (int64_t i = 0; i < 9; ++i) f[i] = static_cast<float>(i);    // Filter 0: ramp.
  for (int64_t i = 9; i < 18; ++i) f[i] = -static_cast<float>(i);  // Filter 1: reverse ramp.
  Image g = *FilterGrid(f, 1, 1);
  EXPECT_EQ(g.width, 1 + 2 * 4);
  EXPECT_EQ(g.height, 1 + 1 * 4);
  EXPECT_EQ(g.Get(0, 0), (Rgb{128, 128, 128}));  // Padding.
  EXPECT_EQ(g.Get(1, 1), (Rgb{0, 0, 0}));        // Filter 0 min.
  EXPECT_EQ(g.Get(3, 3), (Rgb{255, 255, 255}));  // Filter 0 max.
  EXPECT_EQ(g.Get(5, 1), (Rgb{255, 255, 255}));  // Filter 1 normalized on its own.

  Tensor multi(Shape({4, 5, 2, 2}));
  Image m = *FilterGrid(multi, 2, 0);
  EXPECT_EQ(m.width, 5 * 4);   // One column per input channel.
  EXPECT_EQ(m.height, 4 * 4);  // One row per filter.

  Tensor rgb(Shape({4, 3, 2, 2}));
  rgb[0] = 1;  // Filter 0, red channel, pixel (0, 0).
  Image r = *FilterGrid(rgb, 1, 0);
  EXPECT_EQ(r.width, 4);  // 2x2 grid of 2x2 tiles.
  EXPECT_EQ(r.Get(0, 0), (Rgb{255, 0, 0}));
}

TEST(FilterGridTest, RejectsBadArguments) {
  EXPECT_TRUE(absl::IsInvalidArgument(FilterGrid(Tensor(Shape({3, 3, 3})), 1, 1).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(FilterGrid(Tensor(Shape({0, 1, 3, 3})), 1, 1).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(FilterGrid(Tensor(Shape({1, 1, 3, 3})), 0, 1).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(FilterGrid(Tensor(Shape({1, 1, 3, 3})), 1, 17).status()));
}

}  // namespace
}  // namespace simdnet
