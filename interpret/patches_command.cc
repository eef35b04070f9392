// `simdnet patches`: top-K receptive-field crops and their projections, PNG + CSV.
#include "interpret/patches_command.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "interpret/image.h"
#include "interpret/patches.h"
#include "interpret/source.h"
#include "tensor/atomic_file.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

constexpr Rgb kOutside{96, 112, 140};  // slate: the part of a field outside the image

// Copies box `b` of sample `chw` (C, H, W) into a (C, bh, bw) buffer.
std::vector<float> Crop(const float* chw, int64_t c, int64_t h, int64_t w, const PatchBox& b) {
  std::vector<float> out;
  out.reserve(static_cast<size_t>(c * b.height() * b.width()));
  for (int64_t k = 0; k < c; ++k) {
    for (int64_t y = b.y0; y < b.y1; ++y) {
      for (int64_t x = b.x0; x < b.x1; ++x) out.push_back(chw[(k * h + y) * w + x]);
    }
  }
  return out;
}

// Places `inner` (the clipped box) into a full-field canvas at the box's place in the field.
Image PlaceInField(const Image& inner, const PatchBox& full, const PatchBox& clipped,
                      int scale) {
  Image out = Image::Filled(static_cast<int>(full.width()) * scale,
                                  static_cast<int>(full.height()) * scale, kOutside);
  const int ox = static_cast<int>(clipped.x0 - full.x0) * scale;
  const int oy = static_cast<int>(clipped.y0 - full.y0) * scale;
  for (int y = 0; y < inner.height; ++y) {
    for (int x = 0; x < inner.width; ++x) out.Set(ox + x, oy + y, inner.Get(x, y));
  }
  return out;
}

// Joins images left to right with `gap` white pixels between them.
Image HStack(const std::vector<Image>& images, int gap) {
  int w = 0, h = 0;
  for (const Image& im : images) {
    w += im.width + gap;
    h = std::max(h, im.height);
  }
  Image out = Image::Filled(std::max(1, w - gap), std::max(1, h), {255, 255, 255});
  int x0 = 0;
  for (const Image& im : images) {
    for (int y = 0; y < im.height; ++y) {
      for (int x = 0; x < im.width; ++x) out.Set(x0 + x, y, im.Get(x, y));
    }
    x0 += im.width + gap;
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> RunPatchesCommand(const PatchesCommandOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  SIMDNET_ASSIGN_OR_RETURN(LoadedModel loaded, LoadModelForInterpretation(options.checkpoint));
  SIMDNET_ASSIGN_OR_RETURN(PixelModel pixels_model, loaded.Pixels());
  if (options.layer.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--layer: required (layers: ", absl::StrJoin(loaded.model->LayerNames(), ", "), ")"));
  }
  SIMDNET_ASSIGN_OR_RETURN(ReceptiveField rf, ReceptiveFieldOf(*loaded.model, options.layer));
  TopActivationOptions top_options;
  top_options.layer = options.layer;
  top_options.channels = options.channels;
  if (top_options.channels.empty()) {
    absl::StatusOr<Layer*> layer = loaded.model->FindLayer(options.layer);
    const Shape out = layer.ok() ? (*layer)->OutputShape() : Shape();
    const int64_t c = out.rank() == 3 ? out.dim(0) : 1;
    for (int64_t i = 0; i < std::min<int64_t>(8, c); ++i) top_options.channels.push_back(i);
  }
  top_options.k = options.k;
  top_options.num_images = options.num_images;
  top_options.batch = options.batch;
  SIMDNET_ASSIGN_OR_RETURN(InMemoryDataset data, LoadHeldOutImages(loaded, options.data));
  SIMDNET_ASSIGN_OR_RETURN(std::vector<std::vector<TopActivation>> top,
                           FindTopActivations(pixels_model, data, top_options));
  const auto t1 = std::chrono::steady_clock::now();

  // One batch of all (channel, rank) pairs for the two projections.
  std::vector<int64_t> indices, chans, ys, xs;
  for (size_t j = 0; j < top.size(); ++j) {
    for (const TopActivation& t : top[j]) {
      indices.push_back(t.image);
      chans.push_back(top_options.channels[j]);
      ys.push_back(t.y);
      xs.push_back(t.x);
    }
  }
  SIMDNET_ASSIGN_OR_RETURN(Tensor pixels, GatherPixels(data, indices));
  SIMDNET_ASSIGN_OR_RETURN(Tensor deconv,
                           ProjectActivations(pixels_model, options.layer, pixels, chans, ys, xs,
                                              ProjectionRule::kDeconvnet));
  SIMDNET_ASSIGN_OR_RETURN(Tensor guided,
                           ProjectActivations(pixels_model, options.layer, pixels, chans, ys, xs,
                                              ProjectionRule::kGuided));
  const auto t2 = std::chrono::steady_clock::now();

  const int64_t c = pixels.dim(1), h = pixels.dim(2), w = pixels.dim(3), per = c * h * w;
  const int scale = ScaleFor(std::max(rf.size_h, rf.size_w), 48);
  TileGridOptions grid;
  grid.cols = 3;
  grid.gap = 8;
  grid.title = absl::StrFormat("%s: top-%d of %d images, field %dx%d | deconvnet | guided",
                               options.layer, options.k, top_options.num_images > 0
                                   ? std::min(top_options.num_images, data.size())
                                   : data.size(),
                               rf.size_h, rf.size_w);
  std::vector<Image> strips;
  std::string csv = "channel,rank,image,label,class,activation,y,x,box_y0,box_x0,box_y1,box_x1\n";
  size_t s = 0;
  for (size_t j = 0; j < top.size(); ++j) {
    std::vector<Image> crops, deconvs, guideds;
    for (size_t r = 0; r < top[j].size(); ++r, ++s) {
      const TopActivation& t = top[j][r];
      const PatchBox full = FullPatchBox(rf, t.y, t.x);
      const PatchBox box = PatchBoxAt(rf, t.y, t.x, h, w);
      const int64_t off = static_cast<int64_t>(s) * per;
      std::vector<float> crop = Crop(pixels.data() + off, c, h, w, box);
      crops.push_back(PlaceInField(
          PixelsToImage(crop.data(), c, box.height(), box.width(), scale), full, box, scale));
      crop = Crop(deconv.data() + off, c, h, w, box);
      deconvs.push_back(PlaceInField(
          StretchToImage(crop.data(), c, box.height(), box.width(), scale), full, box, scale));
      crop = Crop(guided.data() + off, c, h, w, box);
      guideds.push_back(PlaceInField(
          StretchToImage(crop.data(), c, box.height(), box.width(), scale), full, box, scale));
      absl::StrAppendFormat(&csv, "%d,%d,%d,%d,%s,%.6g,%d,%d,%d,%d,%d,%d\n",
                            top_options.channels[j], r + 1, t.image, t.label,
                            loaded.ClassName(t.label), t.activation, t.y, t.x, box.y0, box.x0,
                            box.y1, box.x1);
    }
    strips.push_back(HStack(crops, 2));
    strips.push_back(HStack(deconvs, 2));
    strips.push_back(HStack(guideds, 2));
    grid.row_labels.push_back(absl::StrCat("ch ", top_options.channels[j]));
    const float best = top[j].empty() ? 0.0f : top[j].front().activation;
    const float last = top[j].empty() ? 0.0f : top[j].back().activation;
    grid.captions.push_back(absl::StrFormat("activation %.3g .. %.3g", best, last));
    grid.captions.push_back("deconvnet");
    grid.captions.push_back("guided backprop");
  }
  const Image image = ComposeGrid(strips, grid);
  SIMDNET_RETURN_IF_ERROR(EnsureDirectory(options.out_dir));
  const std::string png = absl::StrCat(options.out_dir, "/patches_", options.layer, ".png");
  const std::string csv_path = absl::StrCat(options.out_dir, "/patches_", options.layer, ".csv");
  SIMDNET_RETURN_IF_ERROR(WritePng(png, image));
  SIMDNET_RETURN_IF_ERROR(WriteFileAtomically(csv_path, csv));
  const double search_s = std::chrono::duration<double>(t1 - t0).count();
  const double project_s = std::chrono::duration<double>(t2 - t1).count();
  std::string text = absl::StrFormat(
      "patches of %s, channels %s: receptive field %dx%d, stride %dx%d, offset %d,%d\n"
      "  searched %d images in %.2f s (load + forward), projected %d activations in %.2f s\n",
      options.layer, absl::StrJoin(top_options.channels, ","), rf.size_h, rf.size_w,
      rf.stride_h, rf.stride_w, rf.offset_h, rf.offset_w,
      top_options.num_images > 0 ? std::min(top_options.num_images, data.size()) : data.size(),
      search_s, static_cast<int64_t>(indices.size()), project_s);
  for (size_t j = 0; j < top.size(); ++j) {
    std::vector<std::string> classes;
    for (const TopActivation& t : top[j]) classes.push_back(loaded.ClassName(t.label));
    absl::StrAppendFormat(&text, "  channel %d: top activation %.3g (image %d); classes %s\n",
                          top_options.channels[j], top[j].front().activation,
                          top[j].front().image, absl::StrJoin(classes, ", "));
  }
  absl::StrAppend(&text, "  wrote ", png, " (", image.width, "x", image.height, ") and ",
                  csv_path, "\n");
  return text;
}

}  // namespace simdnet
