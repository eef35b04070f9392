// The inspect page: runs each interpretation command into its own folder, then embeds every
// PNG it wrote, with its printed summary and a short guide to reading it, in one HTML file.
#include "interpret/inspect_command.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <system_error>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "interpret/activation_stats_command.h"
#include "interpret/adversarial_command.h"
#include "interpret/class_visualization_command.h"
#include "interpret/filters_command.h"
#include "interpret/patches_command.h"
#include "interpret/saliency_command.h"
#include "interpret/source.h"
#include "interpret/tsne_command.h"
#include "tensor/atomic_file.h"
#include "tensor/status_macros.h"
#include "train/report.h"

namespace simdnet {
namespace {

namespace fs = std::filesystem;

struct Section {
  std::string id;      // sub-folder and HTML anchor
  std::string title;
  std::string guide;   // how to read the pictures (HTML)
  std::function<absl::StatusOr<std::string>(const std::string& dir)> run;
};

struct SectionResult {
  const Section* section;
  std::string text;
  std::vector<std::string> pngs;  // paths, sorted
  double seconds = 0.0;
};

// Returns the PNG files directly in `dir`, sorted by name.
std::vector<std::string> ListPngs(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    if (e.is_regular_file() && e.path().extension() == ".png") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<std::string> RenderPage(const InspectCommandOptions& o, const LoadedModel& model,
                                       const std::vector<SectionResult>& results) {
  std::string html = absl::StrCat(
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>simdnet inspect: ",
      HtmlEscape(o.checkpoint), "</title>\n<style>\n"
      "body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}\n"
      "h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ccc;padding-bottom:.2em}\n"
      // Pictures at their native size (their text is drawn for it); wide ones scroll.
      ".pic{overflow-x:auto}img{border:1px solid #ddd;margin:.5em 0;image-rendering:pixelated}\n"
      "pre{background:#f6f6f6;padding:.6em;overflow-x:auto;font-size:.85em}\n"
      ".guide{color:#444}nav a{margin-right:1em}\n</style></head><body>\n",
      "<h1>Inside ", HtmlEscape(fs::path(o.checkpoint).filename().string()), "</h1>\n<p>",
      HtmlEscape(o.checkpoint), ": input ", HtmlEscape(model.model->InputShape().ToString()),
      ", ", model.model->num_classes(), " classes, ", model.model->ParameterCount(),
      " parameters.</p>\n<nav>");
  for (const SectionResult& r : results) {
    absl::StrAppend(&html, "<a href=\"#", r.section->id, "\">", HtmlEscape(r.section->title),
                    "</a>");
  }
  absl::StrAppend(&html, "</nav>\n<pre>", HtmlEscape(model.model->Summary()), "</pre>\n");
  for (const SectionResult& r : results) {
    absl::StrAppend(&html, "<h2 id=\"", r.section->id, "\">", HtmlEscape(r.section->title),
                    "</h2>\n<p class=\"guide\">", r.section->guide, "</p>\n");
    for (const std::string& png : r.pngs) {
      SIMDNET_ASSIGN_OR_RETURN(std::string bytes, ReadFile(png));
      absl::StrAppend(&html, "<div class=\"pic\"><img alt=\"",
                      HtmlEscape(fs::path(png).filename().string()),
                      "\" src=\"data:image/png;base64,", absl::Base64Escape(bytes),
                      "\"></div>\n");
    }
    absl::StrAppend(&html, "<pre>", HtmlEscape(r.text),
                    absl::StrFormat("(%.1f s)", r.seconds), "</pre>\n");
  }
  absl::StrAppend(&html, "</body></html>\n");
  return html;
}

}  // namespace

absl::StatusOr<std::string> RunInspectCommand(const InspectCommandOptions& o) {
  SIMDNET_ASSIGN_OR_RETURN(LoadedModel model, LoadModelForInterpretation(o.checkpoint));
  SIMDNET_RETURN_IF_ERROR(EnsureDirectory(o.out_dir));
  // The conv layers, in order: filters of the first two, patches of each.
  std::vector<std::string> convs;
  model.model->ForEachLayer([&](const std::string& path, Layer& layer, int) {
    if (layer.TypeName() == "conv2d") convs.push_back(path);
  });

  std::vector<Section> sections;
  for (size_t i = 0; i < convs.size() && i < 2; ++i) {
    sections.push_back(Section{
        absl::StrCat("filters-", convs[i]), absl::StrCat("Filters of ", convs[i]),
        "Each tile is one filter's weights, contrast-stretched on its own. First-layer filters "
        "of a trained network look like oriented edges, blobs and color opponents; noise means "
        "the layer has not learned. For deeper layers, rows are filters and columns their "
        "input channels (blue negative, red positive).",
        [&, layer = convs[i]](const std::string& dir) {
          FiltersCommandOptions f;
          f.checkpoint = o.checkpoint;
          f.layer = layer;
          f.out_dir = dir;
          f.max_filters = 16;
          f.max_channels = 16;
          return RunFiltersCommand(f);
        }});
  }
  for (const std::string& conv : convs) {
    sections.push_back(Section{
        absl::StrCat("patches-", conv), absl::StrCat("Top-activating patches of ", conv),
        "Per channel (row): the test-image patches (the layer's true receptive field) that "
        "excite it most, then that activation projected back to pixels with the deconvnet "
        "rule (Zeiler &amp; Fergus 2014) and with guided backpropagation (Springenberg et al. "
        "2015). Early layers respond to edges and strokes, deeper ones to parts of objects.",
        [&, layer = conv](const std::string& dir) {
          PatchesCommandOptions p;
          p.checkpoint = o.checkpoint;
          p.data = o.data;
          p.out_dir = dir;
          p.layer = layer;
          for (int64_t c = 0; c < o.patch_channels; ++c) p.channels.push_back(c);
          p.num_images = o.patch_samples;
          return RunPatchesCommand(p);
        }});
  }
  sections.push_back(Section{
      "activations", "Activation statistics",
      "Per layer: the distribution of activations over a batch of test images. Healthy "
      "layers keep a spread of values; a layer whose activations are all 0 (dead ReLUs) or "
      "pinned at the ends of a squashing nonlinearity has stopped learning.",
      [&](const std::string& dir) {
        ActivationsCommandOptions a;
        a.checkpoint = o.checkpoint;
        a.data = o.data;
        a.out_dir = dir;
        a.seed = o.seed;
        return RunActivationsCommand(a);
      }});
  sections.push_back(Section{
      "tsne", "t-SNE of the penultimate features",
      "Each dot is a test image placed so that images with similar features are close "
      "(van der Maaten &amp; Hinton 2008). Well-separated colored islands mean the network "
      "separates the classes; mixed regions are the classes it confuses.",
      [&](const std::string& dir) {
        TsneCommandOptions t;
        t.checkpoint = o.checkpoint;
        t.data = o.data;
        t.samples = o.tsne_samples;
        t.tsne.seed = o.seed;
        t.out_dir = dir;
        return RunTsneCommand(t);
      }});

  sections.push_back(Section{
      "saliency", "Saliency maps",
      "Which pixels drive the predicted class's score: the gradient magnitude (Simonyan et "
      "al. 2014), its noise-averaged SmoothGrad (Smilkov et al. 2017), guided backpropagation "
      "and Grad-CAM at the last conv block (Selvaraju et al. 2017). A model that looks at the "
      "object, not the background, lights up the object.",
      [&](const std::string& dir) {
        SaliencyCommandOptions a;
        a.checkpoint = o.checkpoint;
        a.data = o.data;
        a.indices = o.indices;
        a.seed = o.seed;
        a.out_dir = dir;
        return RunSaliencyCommand(a);
      }});
  sections.push_back(Section{
      "adversarial", "Adversarial examples",
      "Fast gradient sign (Goodfellow et al. 2015): every pixel moved by epsilon in the "
      "direction that raises the loss. The middle column is the (amplified) change, too small "
      "to matter to a person, enough to change the prediction. The sweep shows accuracy as "
      "epsilon grows, for FGSM and for the stronger iterative attack (Kurakin et al. 2017).",
      [&](const std::string& dir) {
        AdversarialCommandOptions a;
        a.checkpoint = o.checkpoint;
        a.data = o.data;
        a.indices = o.indices;
        a.epsilon = 0.05f;
        a.sweep = true;
        a.sweep_samples = o.sweep_samples;
        a.out_dir = dir;
        return RunAdversarialCommand(a);
      }});
  sections.push_back(Section{
      "classvis", "Class visualizations",
      "For each class, an image grown from noise by gradient ascent on that class's score "
      "(Simonyan et al. 2014), with jitter, L2 decay, blur and clipping of weak pixels as "
      "regularizers (Yosinski et al. 2015): what the network has learned to look for.",
      [&](const std::string& dir) {
        ClassVisCommandOptions a;
        a.checkpoint = o.checkpoint;
        a.out_dir = dir;
        a.ascent.seed = o.seed;
        return RunClassVisCommand(a);
      }});

  std::vector<SectionResult> results;
  std::string text;
  for (const Section& s : sections) {
    const std::string dir = (fs::path(o.out_dir) / s.id).string();
    SIMDNET_RETURN_IF_ERROR(EnsureDirectory(dir));
    const auto t0 = std::chrono::steady_clock::now();
    absl::StatusOr<std::string> r = s.run(dir);
    if (!r.ok()) {
      return absl::Status(r.status().code(),
                          absl::StrCat("inspect: ", s.title, ": ", r.status().message()));
    }
    SectionResult res{&s, *r, ListPngs(dir),
                      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
                          .count()};
    absl::StrAppend(&text, "== ", s.title, absl::StrFormat(" (%.1f s)\n", res.seconds), *r);
    results.push_back(std::move(res));
  }
  SIMDNET_ASSIGN_OR_RETURN(std::string html, RenderPage(o, model, results));
  const std::string page = (fs::path(o.out_dir) / "inspect.html").string();
  SIMDNET_RETURN_IF_ERROR(WriteFileAtomically(page, html));
  absl::StrAppend(&text, "page: ", page, "\n");
  return text;
}

}  // namespace simdnet
