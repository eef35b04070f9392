// PlanConv2d: every threshold that picks a convolution algorithm, with its measurement.
#include "layers/conv_plan.h"

#include <cstddef>
#include <string>
#include <vector>

#include "tensor/status_macros.h"

namespace simdnet {
namespace {

size_t RoundUp(size_t a, size_t b) { return (a + b - 1) / b * b; }

// Winograd F(2x2, 3x3) can run the shape: 3x3, equal strides of 1 or 2, no dilation, padding
// <= 2 (the transforms' patches reach at most 2 pixels past the image).
bool WinogradFits(const Conv2dShape& s) {
  return s.kernel_h == 3 && s.kernel_w == 3 && s.stride_h == s.stride_w && s.stride_h <= 2 &&
         s.dilation_h == 1 && s.dilation_w == 1 && s.pad_h <= 2 && s.pad_w <= 2;
}

// Backward-data as a forward convolution needs stride 1 and padding within the kernel's reach
// (the flipped convolution's padding reach - pad must be >= 0).
bool FlippedFits(const Conv2dShape& s) {
  return s.stride_h == 1 && s.stride_w == 1 && s.pad_h <= s.dilation_h * (s.kernel_h - 1) &&
         s.pad_w <= s.dilation_w * (s.kernel_w - 1);
}

// Winograd wins with >= 32 input and output channels per group (below that the GEMMs do not
// amortize the transforms). Measured on Zen 4 against the direct paths, 2 threads: stride 1,
// 32 -> 64 channels on 14x14 gains 1.15-1.4x, 64 -> 64 on 32x32 1.3-1.45x, 128 and 256
// channels 1.3-1.9x; stride 2, 64 -> 128 on 32x32 1.2-1.3x in each pass.
constexpr size_t kWinogradMinChannels = 32;

bool WinogradPays(const Conv2dShape& s) {
  return WinogradFits(s) && s.in_channels / s.groups >= kWinogradMinChannels &&
         s.out_channels / s.groups >= kWinogradMinChannels;
}

// Winograd F(4x4, 3x3) against F(2x2, 3x3) at stride 1 (both run by ConvForwardWinograd): 36
// points per 4x4 tile instead of 16 per 2x2 (1.78x fewer GEMM multiplies when the sides are
// multiples of 4) and 2.25 transformed input values per output instead of 4. It needs (a) at
// most 3/4 of F(2x2)'s points over the plane (4x4 tiles waste more outputs: 7x7 and 14x14 keep
// 0.56 and 0.73 of the points, 10x10 0.81, 5x5 1.0) and (b) at least twice cg kg / (cg + kg)
// tiles in the batch: its transformed weights are 2.25x larger and with few tiles per task the
// GEMMs stream them from L3. Measured on Zen 5, 2 threads (load 2-4, ranges of CPU-time
// GFLOPS, AVX-512 / AVX2), F(2x2) -> F(4x4): vgg-small's 32 -> 32 on 28x28 (batch 64) 293-339
// -> 431-511 / 201-213 -> 342-359, 64 -> 64 on 14x14 395-484 -> 472-580 / 310-320 -> 398-405;
// resnet18 (batch 16) 64 on 56x56 396-488 -> 637-694 / 309-312 -> 445-456, 128 on 28x28 597-611
// -> 833-870, 256 on 14x14 552-585 -> 536-571 / 354-384 -> 410-425; rejected by (b): 512 on
// 7x7 (64 tiles) 361-403 -> 332-382 / 250-261 -> 236-237, 128 on 3x3 batch 64 (64 tiles)
// 186-221 -> 169-185 / 162-166 -> 180-182; by (a): 64 on 5x5 214-238 -> 168-214, 32 on 10x10
// 238-296 -> 236-282. bench/shapes/conv_winograd.txt has these shapes.
//
// The weight gradient (dU: 36 cg kg floats summed over the tiles, written back per step of
// tiles) needs (b) with 4 cg kg / (cg + kg) tiles. Measured on Zen 5, 2 threads (load 5-8,
// CPU-time GFLOPS, AVX-512 / AVX2), F(2x2) -> F(4x4): vgg-small 32 -> 32 on 28x28 277-296 ->
// 352-357 / 209-215 -> 257-267, 64 -> 64 on 14x14 349-393 -> 386-412 / 247-257 -> 281-301,
// 32 -> 64 on 14x14 298-312 -> 300-344 / 206-226 -> 228-240; resnet18 64 on 56x56 437-458 ->
// 548-598 / 273-291 -> 321-395, 128 on 28x28 508-525 -> 606-647 / 279-320 -> 353-420;
// rejected: 256 on 14x14 (256 tiles) 473-474 -> 409-455 / 257-306 -> 292-331, 512 on 7x7
// 355-360 -> 363-374 / 247-250 -> 280-285, 128 on 3x3 163-171 -> 146 (AVX-512), 64 on 5x5
// 168-180 -> 148-161 (AVX-512).
//
// Both need (c) at least 96 tiles in the batch: with fewer the GEMMs' NR-wide panels are part
// empty and the weight transform is not amortized (the layer plans for the batch it runs).
// Measured as above (AVX-512, forward / weights): 32 -> 32 on 28x28 at batch 1 (49 tiles)
// 187-214 -> 175-197, at batch 2 (98) 184-227 -> 208-236 / 185-220 -> 247-276; 64 -> 64 on
// 14x14 at batch 1 (16) 137-152 -> 74-91, batch 4 (64) 217-273 -> 214-240 / 209-238 -> 225-228,
// batch 8 (128) 264-273 -> 279-286 / 254-258 -> 245-247, batch 16 (256) 292-312 -> 310-331 /
// 278-281 -> 285-300; 64 on 7x7 at batch 8 (32) 124-171 -> 116-133.
constexpr size_t kWinograd4MinTiles = 96;

// With transformed weights over 1 MiB (36 cg kg floats; they no longer stay in L2 between
// tasks) both passes also need F(4x4) to save at least 5120 points over the batch (20 x 256:
// packing and streaming its 20 cg kg more weight floats costs about 256 points' GEMM work
// each). Measured as above, 2 threads, AVX-512, F(2x2) -> F(4x4): resnet18's 256 channels on
// 14x14 at batch 16 (3328 points saved) forward 586-617 -> 516-590, flipped backward-data
// 534-619 -> 497-522: rejected; 256 on 8x8 at batch 64 (7168 saved) forward 581-629 ->
// 684-698, backward-data 561-577 -> 668-690: kept.
constexpr size_t kWinograd4LargeWeightFloats = size_t{1} << 18;
constexpr size_t kWinograd4LargeWeightMinSavedPoints = 5120;

bool Winograd4Pays(const Conv2dShape& s, size_t min_tiles_factor) {
  if (!WinogradPays(s) || s.stride_h != 1) return false;
  const size_t cg = s.in_channels / s.groups, kg = s.out_channels / s.groups;
  const size_t oh = s.out_h(), ow = s.out_w();
  const size_t tiles2 = s.batch * ((oh + 1) / 2) * ((ow + 1) / 2);
  const size_t tiles4 = s.batch * ((oh + 3) / 4) * ((ow + 3) / 4);
  const bool large_weights = 36 * cg * kg > kWinograd4LargeWeightFloats;
  return 4 * 36 * tiles4 <= 3 * 16 * tiles2 && tiles4 >= kWinograd4MinTiles &&
         tiles4 * (cg + kg) >= min_tiles_factor * cg * kg &&
         (!large_weights || 16 * tiles2 >= 36 * tiles4 + kWinograd4LargeWeightMinSavedPoints);
}

// The stride-2 Winograd backward passes pay for the transformed weights (25 cg kg floats) per
// image (backward-data) or per step of tiles against dU (backward-weights); with few tiles per
// image they lose to the im2col GEMM. Winograd<2> keeps them while 4 x the tiles of an image is
// at least cg kg / (cg + kg). Measured on Zen 5, batch 16, 2 threads (loaded machine, CPU-time
// GFLOPS): 256 -> 512 channels on 14x14 (16 tiles per image vs 170) backward-data 106 ->
// 198 with im2col, backward-weights 217 -> 250; 128 -> 256 on 28x28 (49 tiles vs 85) keeps
// Winograd (296 vs 240 and 293 vs 257).
bool WinogradStride2BackwardPays(const Conv2dShape& s) {
  const size_t cg = s.in_channels / s.groups, kg = s.out_channels / s.groups;
  const size_t tiles = ((s.out_h() + 1) / 2) * ((s.out_w() + 1) / 2);
  return WinogradPays(s) && 4 * tiles * (cg + kg) >= cg * kg;
}

// The direct forward computes whole NR-pixel blocks of the virtual (padded) grid, the im2col
// GEMM whole NR-pixel blocks of the output: direct (no packing) wins unless it wastes more than
// 15% more lanes (small images with wide padding, e.g. 8x8 + pad 1 uses 64 of 96 lanes).
constexpr double kDirectMaxLaneWaste = 1.15;

// Pointwise convolutions over >= 64 input channels run the im2col GEMM (a plain copy into
// packed panels): in place, each block of pixels reads one line from every channel plane, more
// streams than the prefetchers follow (64 -> 256 channels on 16x16, 2 threads: 185 -> 205
// GFLOPS forward, and its backward-data 160 -> 162).
constexpr size_t kPointwiseIm2colMinChannels = 64;

// The direct weight gradient runs one GEMM per image into dW (kg x crs), so each image rereads
// and rewrites dW: with few output pixels per image that traffic dominates. Measured on Zen 5,
// batch 16, 2 threads (loaded machine, CPU-time GFLOPS), direct vs im2col: 7x7 outputs 512 ->
// 512 3x3 167 vs 328, 256 -> 512 3x3 stride 2 160 vs 250, 256 -> 512 1x1 stride 2 31 vs 38;
// 14x14 outputs: 128 -> 256 3x3 stride 2 258 vs 257, 1x1 33-35 vs 26 (direct kept).
constexpr size_t kDirectWeightsMinPixels = 128;

// The channel-lanes weight gradient (output channels in the lanes, one register per tap and
// vector of channels, accumulated over an image's pixels) against the GEMM-based ones on small
// images, where those re-read dW or pack im2col for few pixels. Measured on Zen 5, batch 64,
// 1 thread, CPU time (AVX-512 / AVX2, ms; loaded machine): LeNet's 6 -> 16 5x5 on 14x14 (100
// pixels) 0.23 vs 0.40 (dot) / 0.33 vs 0.40 (direct); 32 -> 16 3x3 on 8x8 0.36 vs 0.50
// (Winograd) / 0.44 vs 0.46; 16 -> 64 on 7x7 0.39 vs 0.45 / 0.68 vs 0.66; 24 -> 24 on 10x10
// (24 of 32 lanes on AVX-512) 0.60 vs 0.64 / 0.80 vs 0.84; 6 -> 16 3x3 stride 2 on 15x15
// 0.10 vs 0.20 / 0.10 vs 0.18. With 196 pixels (16 -> 32 5x5 on 14x14) it ties with direct
// (1.89 vs 1.89), with 784 (8 -> 16 on 28x28) the dot product wins (0.99 vs 1.18). Checked
// before the dot product, which it beats on these small images (LeNet's: 0.33 vs 0.50-0.62 on
// AVX2; 32 -> 16 on 8x8: 0.36 vs 0.65 on AVX-512).
constexpr size_t kChannelLanesMaxChannels = 64;

bool ChannelLanesWeightsPay(const Conv2dShape& s, const ConvTarget& t) {
  const size_t kg = s.out_channels / s.groups;
  return !IsDepthwise(s) && s.out_h() * s.out_w() < kDirectWeightsMinPixels &&
         kg <= kChannelLanesMaxChannels && 4 * kg >= 3 * RoundUp(kg, t.lanes);
}

// The pixel-rows forward (row segments of one vector x up to 8 output channels in registers,
// reading a zero-padded copy of the image) against the direct paths, whose kGemmMR-row tile is
// part empty with fewer output channels and whose dense layout copies the image kernel_w
// times. Measured on Zen 5, batch 64, 1 thread, CPU time (AVX-512 / AVX2, ms; loaded machine):
// LeNet's 1 -> 6 5x5 pad 2 on 28x28 0.13 vs 0.155 (dense) / 0.22 vs 0.20 (6 = MR on AVX2,
// 18 KiB of copies: dense kept); the flipped backward-data of LeNet's 6 -> 16 (16 -> 6 on
// 10x10, pad 4) 0.42-0.48 vs 0.66 / 0.70-0.75 vs 0.94-1.15 (80 KiB of copies); 64 -> 3 3x3 on
// 32x32 2.5 vs 4.4-5.3 / 5.6-6.1 vs 5.9-6.8. With 16 output channels (two blocks of 8) it ties
// (32 -> 16 5x5 on 14x14 2.1 vs 2.3 / 4.4 vs 4.4), and rows of 10 (16 -> 16 lanes) lose.
// Below 4 output channels a tile does more loads than FMAs: as backward-data, S1's flip
// (32 -> 1 on 28x28) 2.0 vs 1.5-1.6 with GEMM + col2im / 2.6 vs 2.0, S3's (64 -> 3 on 32x32)
// 3.3 vs 3.4-3.6 / 6.5 vs 4.8.
constexpr size_t kPixelRowsMinChannels = 4;
constexpr size_t kPixelRowsMaxChannels = 8;
constexpr size_t kL1Floats = 8192;  // 32 KiB (Zen 4's L1d; Zen 5 has 48 KiB)

bool PixelRowsPay(const Conv2dShape& s, const ConvTarget& t) {
  const size_t kg = s.out_channels / s.groups, ow = s.out_w();
  if (s.stride_w != 1 || kg < kPixelRowsMinChannels || kg > kPixelRowsMaxChannels ||
      4 * ow < 3 * RoundUp(ow, t.lanes)) {
    return false;
  }
  const size_t dense_copies =
      s.in_channels / s.groups * s.kernel_w * (s.in_h + 2 * s.pad_h) * ow;
  return kg % t.mr != 0 || dense_copies > kL1Floats;
}

ConvPassPlan PlanForward(const Conv2dShape& s, const ConvTarget& t) {
  if (IsDepthwise(s)) {
    return {ConvAlgorithm::kDepthwise,
            "depthwise: one channel per group, per-channel vectors (the GEMM tile would be 1 "
            "row of kGemmMR)"};
  }
  if (Winograd4Pays(s, 2)) {
    return {ConvAlgorithm::kWinograd4,
            "3x3 stride 1, >= 32 channels per group each way, 4x4 tiles keep <= 3/4 of the "
            "points and the batch has >= 96 and >= 2 cg kg / (cg + kg) of them: F(4x4, 3x3)"};
  }
  if (WinogradPays(s)) {
    return {ConvAlgorithm::kWinograd, "3x3 stride 1-2 with >= 32 channels per group each way"};
  }
  if (PixelRowsPay(s, t)) {
    return {ConvAlgorithm::kPixelRows,
            "stride_w 1, 4-8 output channels, rows fill >= 3/4 of their vectors, and the "
            "direct tile is part empty or its dense copies spill from L1"};
  }
  const size_t nr = 2 * t.lanes;
  // The dense layout (stride 1) fills the lanes as im2col does, from kernel_w shifted copies
  // instead of kernel_h * kernel_w: measured on Zen 5, batch 64, 1 thread, CPU time (AVX-512,
  // ms), dense vs im2col: LeNet's 6 -> 16 5x5 on 14x14 0.26 vs 0.84 (AVX2 0.47 vs 1.2),
  // 16 -> 32 3x3 pad 1 on 8x8 0.29 vs 0.59, 24 -> 24 on 10x10 0.62 vs 1.43, 32 -> 16 5x5 pad 2
  // on 14x14 2.3 vs 7.5.
  const bool dense = PlanDirectLayout(s, t) == DirectLayout::kDense;
  const double direct_lanes = static_cast<double>(
      dense ? RoundUp(s.out_h() * s.out_w(), nr) : RoundUp(ConvVirtualPixels(s), nr));
  const double im2col_lanes = static_cast<double>(RoundUp(s.out_h() * s.out_w(), nr));
  const bool many_channel_pointwise =
      s.kernel_h == 1 && s.kernel_w == 1 && s.stride_h == 1 && s.stride_w == 1 &&
      ConvVirtualWidth(s) == s.out_w() && s.in_channels / s.groups >= kPointwiseIm2colMinChannels;
  if (many_channel_pointwise) {
    return {ConvAlgorithm::kIm2colGemm, "pointwise over >= 64 channels: packed panels stream"};
  }
  if (direct_lanes > kDirectMaxLaneWaste * im2col_lanes) {
    return {ConvAlgorithm::kIm2colGemm, "the padded grid wastes > 15% more lanes than im2col"};
  }
  return {ConvAlgorithm::kDirect,
          "no packing; its layout (dense: kernel_w shifted copies) wastes <= 15% more lanes"};
}

}  // namespace

DirectLayout PlanDirectLayout(const Conv2dShape& s, const ConvTarget& t) {
  const size_t n = t.lanes, nr = 2 * t.lanes;
  const size_t oh = s.out_h(), ow = s.out_w(), p = oh * ow;
  const size_t wq = ConvVirtualWidth(s), nv = ConvVirtualPixels(s);
  // Row layout: blocks of up to NR pixels inside one output row, written straight from the
  // registers (no discarded columns, no scatter); chosen when it uses no more lanes than blocks
  // over the virtual grid (rows of >= NR outputs, e.g. 32x32 images on AVX-512).
  const size_t row_lanes = oh * ((ow + nr - 1) / nr) * nr;
  // Dense layout (stride 1, padded grid wider than the output): chosen unless the row layout
  // fills every lane too (e.g. 28 wide on AVX-512: rows use 28 of 32 lanes, dense 784 of 800).
  if (s.stride_h == 1 && s.stride_w == 1 && wq != ow && RoundUp(p, nr) < row_lanes) {
    return DirectLayout::kDense;
  }
  if (row_lanes <= RoundUp(nv, nr)) return DirectLayout::kRow;
  // Flat: the virtual grid has no discarded columns (e.g. 1x1 without padding).
  if (wq == ow) return DirectLayout::kFlat;
  // Pair: rows of exactly N outputs (e.g. 16x16 outputs on AVX-512), one row per vector.
  if (ow == n && RoundUp(oh, 2) * n <= RoundUp(nv, nr)) return DirectLayout::kPair;
  return DirectLayout::kScatter;
}

DirectLayout PlanDepthwiseLayout(const Conv2dShape& s, const ConvTarget& t) {
  const size_t n = t.lanes;
  const size_t row_lanes = s.out_h() * RoundUp(s.out_w(), n);
  // The virtual grid pays one extra copy of each output (cheap next to R*S FMAs per output);
  // it is chosen when it saves more than a fifth of the lanes: narrow rows such as 7x7 and
  // 14x14 outputs on AVX-512 (7 of 16 lanes per row; the grid of 9-wide padded rows uses
  // 49 of 64).
  if (RoundUp(ConvVirtualPixels(s), n) * 5 < row_lanes * 4) return DirectLayout::kScatter;
  return DirectLayout::kRow;
}

Conv2dShape FlippedConvShape(const Conv2dShape& s) {
  Conv2dShape t = s;
  t.in_channels = s.out_channels;
  t.out_channels = s.in_channels;
  t.in_h = s.out_h();
  t.in_w = s.out_w();
  t.pad_h = s.dilation_h * (s.kernel_h - 1) - s.pad_h;
  t.pad_w = s.dilation_w * (s.kernel_w - 1) - s.pad_w;
  return t;
}

const ConvPassPlan& ConvPlan::Pass(ConvPass pass) const {
  switch (pass) {
    case ConvPass::kForward:
      return forward;
    case ConvPass::kBackwardData:
      return backward_data;
    case ConvPass::kBackwardWeights:
      break;
  }
  return backward_weights;
}

ConvPlan PlanConv2d(const Conv2dShape& s, const ConvTarget& t) {
  ConvPlan plan;
  plan.forward = PlanForward(s, t);
  plan.forward_layout = PlanDirectLayout(s, t);

  // Backward-data.
  const size_t cg = s.in_channels / s.groups, kg = s.out_channels / s.groups;
  if (IsDepthwise(s)) {
    plan.backward_data = {ConvAlgorithm::kDepthwise, "depthwise: one channel per group"};
  } else if (WinogradStride2BackwardPays(s) && s.stride_h == 2) {
    plan.backward_data = {ConvAlgorithm::kWinograd,
                          "3x3 stride 2 with >= 32 channels and enough tiles per image: the "
                          "Winograd<2> adjoint"};
  } else if (!FlippedFits(s)) {
    plan.backward_data = {ConvAlgorithm::kIm2colGemm,
                          "stride > 1 or padding beyond the kernel's reach: GEMM + col2im"};
  } else if (PlanForward(FlippedConvShape(s), t).algorithm == ConvAlgorithm::kPixelRows) {
    // Few input channels: the flipped forward keeps them all in registers (LeNet's 6 -> 16
    // 5x5 on 14x14, batch 64, 1 thread, Zen 5 AVX-512: 0.42-0.48 ms vs 0.9-1.4 with GEMM +
    // col2im).
    plan.backward_data = {ConvAlgorithm::kFlippedForward,
                          "stride 1 with 4-8 input channels: the flipped forward's pixel rows"};
  } else if (cg < 2 * t.mr) {
    // The flipped convolution has in_channels / groups output rows per group; with fewer than
    // two register tiles of them the tile is mostly empty and GEMM + col2im (rows = C*R*S) wins.
    plan.backward_data = {ConvAlgorithm::kIm2colGemm,
                          "< 2 kGemmMR input channels per group: GEMM + col2im fills the tile"};
  } else {
    plan.backward_data = {ConvAlgorithm::kFlippedForward,
                          "stride 1: the forward of the flipped weights, no column buffer"};
  }
  const Conv2dShape flipped = FlippedConvShape(s);
  if (FlippedFits(s)) {
    plan.flipped = PlanForward(flipped, t);
    plan.flipped_layout = PlanDirectLayout(flipped, t);
  }

  // Backward-weights.
  const size_t crs = cg * s.kernel_h * s.kernel_w, p = s.out_h() * s.out_w();
  if (IsDepthwise(s)) {
    plan.backward_weights = {ConvAlgorithm::kDepthwise, "depthwise: one channel per group"};
  } else if (Winograd4Pays(s, 4)) {
    plan.backward_weights = {ConvAlgorithm::kWinograd4,
                             "3x3 stride 1, >= 32 channels per group each way, 4x4 tiles keep "
                             "<= 3/4 of the points and the batch has >= 96 and >= 4 cg kg / "
                             "(cg + kg) of them: F(4x4, 3x3)"};
  } else if (WinogradPays(s) && (s.stride_h == 1 || WinogradStride2BackwardPays(s))) {
    plan.backward_weights = {ConvAlgorithm::kWinograd,
                             "3x3 stride 1-2 with >= 32 channels per group each way (stride 2: "
                             "enough tiles per image)"};
  } else if (ChannelLanesWeightsPay(s, t)) {
    plan.backward_weights = {ConvAlgorithm::kChannelLanes,
                             "< 128 output pixels per image and <= 64 output channels filling "
                             ">= 3/4 of their vectors: taps accumulate in registers over the "
                             "pixels"};
  } else if (kg * crs * t.lanes <= (size_t{1} << 15)) {
    // A small gradient per group (the stems: 1-3 input channels) whose vector partial sums
    // (kg x crs vectors) stay within 128 KiB. Measured on Zen 4 (stride 1, dense mode) against
    // the transposed GEMM: S1 (1 -> 32 channels, 5x5) 1.3x, S3 (3 -> 64, 3x3) 1.3x.
    plan.backward_weights = {ConvAlgorithm::kDot,
                             "few taps per output channel: partial sums fit in 128 KiB"};
  } else if (s.kernel_h == 1 && s.kernel_w == 1 && s.stride_h == 1 && s.stride_w == 1 &&
             s.pad_h == 0 && s.pad_w == 0) {
    // 1x1, stride 1, no padding: dW_g = sum_n dY_ng X_ng^T as one GEMM over the pixels of
    // all the task's images, the operand with more channels read in place (no im2col, no
    // padded copy; ConvBackwardWeightsPointwise). Measured on Zen 5, batch 16, 2 threads
    // (heavily loaded machine: ranges of best-of-3 CPU-time GFLOPS), against the direct GEMM
    // per image: mobilenet_v2's 14x14 1x1s 150-230 vs 105-180 (e.g. 576 -> 96 193-219 vs
    // 162-214, 192 -> 64 153-229 vs 105-160), 7x7 (direct rereads dW per image) 160-265 vs
    // 100-220, 56x56 114-148 vs 94-128 (96 -> 24, 144 -> 24).
    plan.backward_weights = {ConvAlgorithm::kIm2colGemm,
                             "1x1 stride 1 without padding: one GEMM over the batch's pixels, "
                             "operands in place"};
  } else if (p < kDirectWeightsMinPixels) {
    plan.backward_weights = {ConvAlgorithm::kIm2colGemm,
                             "< 128 output pixels per image: the direct GEMM per image would "
                             "reread dW for few pixels"};
  } else if (ConvVirtualPixels(s) * 100 <= p * 115) {
    // In place on the padded image unless the virtual grid has > 15% discarded columns.
    plan.backward_weights = {ConvAlgorithm::kDirect,
                             "the padded grid wastes <= 15% of the pixels: no im2col"};
  } else {
    plan.backward_weights = {ConvAlgorithm::kIm2colGemm,
                             "the padded grid wastes > 15% of the pixels: gathered im2col"};
  }
  return plan;
}

bool ConvAlgorithmApplies(const Conv2dShape& s, ConvPass pass, ConvAlgorithm algorithm) {
  switch (algorithm) {
    case ConvAlgorithm::kIm2colGemm:
      return true;
    case ConvAlgorithm::kDirect:
      return pass != ConvPass::kBackwardData;
    case ConvAlgorithm::kFlippedForward:
      return pass == ConvPass::kBackwardData && FlippedFits(s);
    case ConvAlgorithm::kWinograd:
      return WinogradFits(s) && (pass != ConvPass::kBackwardData || s.stride_h == 2);
    case ConvAlgorithm::kDot:
      return pass == ConvPass::kBackwardWeights;
    case ConvAlgorithm::kDepthwise:
      return IsDepthwise(s);
    case ConvAlgorithm::kChannelLanes:
      return pass == ConvPass::kBackwardWeights;
    case ConvAlgorithm::kPixelRows:
      return pass == ConvPass::kForward && s.stride_w == 1;
    case ConvAlgorithm::kWinograd4:
      return pass != ConvPass::kBackwardData && WinogradFits(s) && s.stride_h == 1;
  }
  return false;
}

std::vector<ConvAlgorithm> ApplicableConvAlgorithms(const Conv2dShape& s, ConvPass pass) {
  std::vector<ConvAlgorithm> out;
  for (ConvAlgorithm a :
       {ConvAlgorithm::kIm2colGemm, ConvAlgorithm::kDirect, ConvAlgorithm::kFlippedForward,
        ConvAlgorithm::kWinograd, ConvAlgorithm::kDot, ConvAlgorithm::kDepthwise,
        ConvAlgorithm::kChannelLanes, ConvAlgorithm::kPixelRows, ConvAlgorithm::kWinograd4}) {
    if (ConvAlgorithmApplies(s, pass, a)) out.push_back(a);
  }
  return out;
}

ConvPlan ForceConvAlgorithm(const Conv2dShape& s, const ConvTarget& t, ConvPass pass,
                            ConvAlgorithm algorithm) {
  SIMDNET_CHECK(ConvAlgorithmApplies(s, pass, algorithm));
  ConvPlan plan = PlanConv2d(s, t);
  const ConvPassPlan forced{algorithm, "forced"};
  switch (pass) {
    case ConvPass::kForward:
      plan.forward = forced;
      break;
    case ConvPass::kBackwardData:
      plan.backward_data = forced;
      break;
    case ConvPass::kBackwardWeights:
      plan.backward_weights = forced;
      break;
  }
  return plan;
}

const char* ConvAlgorithmName(ConvAlgorithm algorithm) {
  switch (algorithm) {
    case ConvAlgorithm::kIm2colGemm:
      return "im2col-gemm";
    case ConvAlgorithm::kDirect:
      return "direct";
    case ConvAlgorithm::kFlippedForward:
      return "flipped-forward";
    case ConvAlgorithm::kWinograd:
      return "winograd";
    case ConvAlgorithm::kDot:
      return "dot";
    case ConvAlgorithm::kDepthwise:
      return "depthwise";
    case ConvAlgorithm::kChannelLanes:
      return "channel-lanes";
    case ConvAlgorithm::kPixelRows:
      return "pixel-rows";
    case ConvAlgorithm::kWinograd4:
      return "winograd4x4";
  }
  return "?";
}

const char* ConvPassName(ConvPass pass) {
  switch (pass) {
    case ConvPass::kForward:
      return "forward";
    case ConvPass::kBackwardData:
      return "backward-data";
    case ConvPass::kBackwardWeights:
      break;
  }
  return "backward-weights";
}

const char* DirectLayoutName(DirectLayout layout) {
  switch (layout) {
    case DirectLayout::kRow:
      return "row";
    case DirectLayout::kDense:
      return "dense";
    case DirectLayout::kFlat:
      return "flat";
    case DirectLayout::kPair:
      return "pair";
    case DirectLayout::kScatter:
      break;
  }
  return "scatter";
}

std::string ConvPassPlanString(const ConvPlan& plan, ConvPass pass) {
  const ConvPassPlan& p = plan.Pass(pass);
  std::string out = ConvAlgorithmName(p.algorithm);
  if (pass == ConvPass::kForward && p.algorithm == ConvAlgorithm::kDirect) {
    out += std::string("(") + DirectLayoutName(plan.forward_layout) + ")";
  }
  if (pass == ConvPass::kBackwardData && p.algorithm == ConvAlgorithm::kFlippedForward) {
    out += std::string("(") + ConvAlgorithmName(plan.flipped.algorithm);
    if (plan.flipped.algorithm == ConvAlgorithm::kDirect) {
      out += std::string(" ") + DirectLayoutName(plan.flipped_layout);
    }
    out += ")";
  }
  return out;
}

}  // namespace simdnet
