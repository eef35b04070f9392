// Per-ISA tests of the convolution kernels (forward with bias/ReLU, backward-data,
// backward-weights + bias) against the double-precision reference: the planned algorithms over
// shapes that reach every path (1x1, strides, padding > 1, kernels larger than the input,
// dilation, groups, depthwise, K blocks and M blocks, multi-threaded splits), and every
// applicable algorithm forced on odd and round shapes.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <deque>
#include <limits>
#include <string>
#include <vector>

#include "layers/conv2d_kernels.h"
#include "layers/conv_plan.h"
#include "tensor/simd_targets.h"  // must come before foreach_target.h

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "layers/conv2d_kernels_test.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/tests/hwy_gtest.h"
#include "layers/conv2d_reference.h"
#include "layers/conv_common-inl.h"
#include "tensor/rng.h"
#include "tensor/thread_pool.h"

#ifndef SIMDNET_LAYERS_CONV2D_KERNELS_TEST_HELPERS_
#define SIMDNET_LAYERS_CONV2D_KERNELS_TEST_HELPERS_
namespace simdnet {
namespace conv_test {

struct NamedShape {
  const char* name;
  Conv2dShape s;
};

inline Conv2dShape Make(size_t n, size_t c, size_t h, size_t w, size_t k, size_t kh, size_t kw,
                        size_t stride, size_t pad, size_t dilation = 1, size_t groups = 1) {
  Conv2dShape s;
  s.batch = n;
  s.in_channels = c;
  s.in_h = h;
  s.in_w = w;
  s.out_channels = k;
  s.kernel_h = kh;
  s.kernel_w = kw;
  s.stride_h = s.stride_w = stride;
  s.pad_h = s.pad_w = pad;
  s.dilation_h = s.dilation_w = dilation;
  s.groups = groups;
  return s;
}

// Shapes named after the condition they exercise.
inline std::vector<NamedShape> TestShapes() {
  std::vector<NamedShape> v = {
      {"Basic3x3OddChannels", Make(2, 3, 7, 9, 5, 3, 3, 1, 1)},
      {"Round3x3", Make(2, 16, 16, 16, 16, 3, 3, 1, 1)},
      {"Round3x3Stride2Pad0", Make(1, 8, 16, 16, 8, 3, 3, 2, 0)},
      {"Kernel5Pad2Wide", Make(1, 3, 6, 40, 4, 5, 5, 1, 2)},
      {"Kernel7Stride2Pad3", Make(1, 3, 17, 15, 8, 7, 7, 2, 3)},
      {"Pointwise1x1", Make(2, 5, 6, 5, 7, 1, 1, 1, 0)},
      {"Pointwise1x1Stride2", Make(1, 4, 7, 6, 3, 1, 1, 2, 0)},
      // >= 64 channels both ways: forward and flipped backward-data run the im2col GEMM.
      {"Pointwise1x1ManyChannelsIm2col", Make(2, 66, 5, 6, 68, 1, 1, 1, 0)},
      {"Pointwise1x1Pad1", Make(1, 3, 4, 5, 2, 1, 1, 1, 1)},
      // 1x1 weight gradient as one GEMM over the batch's pixels (ConvBackwardWeightsPointwise):
      // more input than output channels (dW^T accumulated, then added), several small images
      // per reduction block, channel counts off the tile sizes; images above KC pixels in
      // slices; groups.
      {"Pointwise1x1TransposedGradient", Make(4, 100, 3, 3, 45, 1, 1, 1, 0)},
      {"Pointwise1x1ImageSlicesAboveKC", Make(3, 41, 17, 19, 70, 1, 1, 1, 0)},
      {"Pointwise1x1OddChannelsBatch7", Make(7, 37, 3, 5, 19, 1, 1, 1, 0)},
      {"Pointwise1x1Groups2", Make(3, 38, 4, 5, 36, 1, 1, 1, 0, 1, 2)},
      {"Stride2Pad1", Make(1, 4, 9, 8, 6, 3, 3, 2, 1)},
      {"Pad2Kernel5", Make(2, 2, 6, 7, 3, 5, 5, 1, 2)},
      {"InputSmallerThanKernel", Make(1, 2, 2, 3, 3, 5, 5, 1, 2)},
      {"Dilation2", Make(1, 3, 8, 9, 4, 3, 3, 1, 2, 2)},
      {"Dilation2Stride2", Make(1, 2, 11, 10, 3, 3, 3, 2, 1, 2)},
      {"Groups2", Make(2, 4, 6, 6, 6, 3, 3, 1, 1, 1, 2)},
      {"Depthwise", Make(2, 5, 7, 6, 5, 3, 3, 1, 1, 1, 5)},
      {"DepthwiseMultiplier2Stride2", Make(1, 3, 9, 9, 6, 3, 3, 2, 1, 1, 3)},
      {"Kernel11Stride4", Make(1, 3, 23, 23, 4, 11, 11, 4, 2)},
      {"Kernel1x3", Make(1, 3, 5, 7, 4, 1, 3, 1, 1)},
      {"SingleInputChannel5x5", Make(2, 1, 12, 11, 8, 5, 5, 1, 2)},
      {"ManyInputChannelsCrossKBlocks", Make(1, 40, 5, 6, 9, 3, 3, 1, 1)},
      {"ManyOutputChannelsCrossMBlocks", Make(1, 2, 3, 4, 500, 1, 1, 1, 0)},
      {"WideRowsCrossPanels", Make(1, 2, 3, 700, 3, 3, 3, 1, 1)},
      {"Batch1Threaded", Make(1, 16, 14, 13, 24, 3, 3, 1, 1)},
      {"Threaded", Make(4, 16, 12, 12, 16, 3, 3, 1, 1)},
      {"ThreadedStride2", Make(3, 12, 13, 13, 20, 3, 3, 2, 1)},
      // Stride 1 on wide rows: the direct (padded-image) forward path.
      {"Stride1WideDirect", Make(2, 6, 20, 30, 10, 3, 3, 1, 1)},
      {"Stride1DilatedDirect", Make(1, 4, 20, 28, 5, 3, 3, 1, 2, 2)},
      {"Stride1GroupsDirect", Make(2, 8, 16, 30, 12, 3, 3, 1, 1, 1, 4)},
      // Rows narrower than a tile: blocks run over the virtual pixel grid and are scattered.
      {"Stride1NarrowRowsVirtualGrid", Make(1, 6, 20, 13, 9, 3, 3, 1, 1)},
      // Stride 1 on a small padded image: the dense layout fills the lanes the padded grid
      // would waste (im2col before the plan counted dense lanes).
      {"Stride1SmallImageDense", Make(2, 5, 8, 8, 7, 3, 3, 1, 1)},
      // Many input channels: backward-data runs as a flipped-weight forward convolution.
      {"BackwardDataFlippedIm2col", Make(1, 26, 10, 12, 5, 3, 3, 1, 1)},
      {"BackwardDataFlippedDirect", Make(1, 30, 16, 30, 4, 3, 3, 1, 1)},
      {"BackwardDataFlippedDilatedPad0", Make(1, 28, 9, 31, 3, 3, 3, 1, 0, 2)},
      // 3x3 stride 1 with >= 32 channels per group: Winograd F(2x2, 3x3), odd output sizes.
      {"WinogradPad1OddSizes", Make(1, 96, 5, 7, 100, 3, 3, 1, 1)},
      {"WinogradPad0Batch2", Make(2, 100, 7, 4, 96, 3, 3, 1, 0)},
      {"WinogradGroups2Pad2", Make(1, 192, 3, 5, 194, 3, 3, 1, 2, 1, 2)},
      // Enough tiles for several transform steps per part, steps spanning images.
      {"WinogradManyTilesOddSizes", Make(3, 96, 13, 11, 97, 3, 3, 1, 1)},
      // Wide images: a chunk of tiles covers part of one image (padded rows copied per chunk).
      {"WinogradWideImagePartialChunks", Make(1, 32, 40, 70, 33, 3, 3, 1, 1)},
      {"WinogradSingleTileRows", Make(5, 33, 2, 2, 32, 3, 3, 1, 1)},
      // dU above 2 MiB: backward-weights splits the output channels across threads.
      {"WinogradWideChannelsSplitByOutput", Make(2, 192, 6, 5, 200, 3, 3, 1, 1)},
      // 3x3 stride 2 with >= 32 channels per group: Winograd<2> (5x5 patches every 4 pixels).
      {"WinogradStride2Pad1OddSizes", Make(2, 33, 13, 11, 40, 3, 3, 2, 1)},
      {"WinogradStride2Pad0RowWiderThanTiles", Make(1, 32, 9, 34, 32, 3, 3, 2, 0)},
      {"WinogradStride2Groups2Pad2", Make(1, 64, 7, 9, 66, 3, 3, 2, 2, 1, 2)},
      // 81 tiles per image: several tile steps per image (backward-data walks them in order).
      {"WinogradStride2ManyTiles", Make(2, 32, 36, 34, 40, 3, 3, 2, 1)},
      // Both channel counts above the GEMMs' KC = 256: forward and backward-data cross K blocks.
      {"WinogradStride2CrossKBlocks", Make(1, 260, 5, 6, 264, 3, 3, 2, 1)},
      {"WinogradStride2SplitByOutput", Make(1, 160, 6, 7, 160, 3, 3, 2, 1)},
      // Tiny inputs: one tile per image, padding wider than the image, phantom outputs.
      {"WinogradStride2TinyPad2", Make(3, 32, 1, 2, 33, 3, 3, 2, 2)},
      // Transformed weights larger than the tiles' data: forward tasks of whole NR strips of
      // cg * kg / (cg + kg) tiles (5x5 outputs, 36 tiles, both strides).
      {"WinogradWideChunks", Make(4, 144, 5, 5, 160, 3, 3, 1, 1)},
      {"WinogradStride2WideChunks", Make(4, 144, 9, 9, 160, 3, 3, 2, 1)},
      // Small stride-2 images, batch 7, channel counts not multiples of the tiles.
      {"Im2colSmallImagesBatch7", Make(7, 20, 15, 13, 37, 3, 3, 2, 1)},
      {"WinogradStride2SingleOutputPad0", Make(2, 32, 3, 4, 32, 3, 3, 2, 0)},
      // Strides > 1 on wide rows: the direct path on the phase-split image.
      {"Stride2WideDirect", Make(2, 5, 20, 62, 6, 3, 3, 2, 1)},
      {"Stride3Dilation2WideDirect", Make(1, 3, 25, 70, 4, 3, 3, 3, 2, 2)},
      {"Stride2Kernel1x1WideDirect", Make(1, 4, 9, 66, 5, 1, 1, 2, 0)},
      // Output rows of exactly one vector (16 / 8 / 4 lanes), odd heights: two rows per tile.
      {"Stride2OutputWidth16", Make(2, 5, 9, 32, 6, 3, 3, 2, 1)},
      {"Stride2OutputWidth8", Make(1, 4, 11, 16, 5, 3, 3, 2, 1)},
      {"Stride1OutputWidth4", Make(1, 3, 7, 4, 5, 3, 3, 1, 1)},
      {"Stride1OutputWidth16", Make(1, 6, 5, 16, 7, 3, 3, 1, 1)},
      // Stride-2 col2im: pad parity, kernel widths, pixel chunks that start mid-row.
      {"Stride2Pad2Kernel5OddWidth", Make(2, 3, 11, 13, 4, 5, 5, 2, 2)},
      {"Stride2Pad0Kernel4", Make(1, 2, 10, 9, 3, 4, 4, 2, 0)},
      {"Stride2ManyChannelsChunkedRows", Make(1, 64, 30, 30, 8, 3, 3, 2, 1)},
  };
  const std::vector<NamedShape> depthwise = {
      // Depthwise (groups == channels): the per-channel SIMD path in all three passes.
      {"DepthwiseStride2Pad1OddSizes", Make(2, 19, 13, 11, 19, 3, 3, 2, 1, 1, 19)},
      {"DepthwiseNarrowRowsVirtualGrid", Make(2, 24, 7, 7, 24, 3, 3, 1, 1, 1, 24)},
      {"DepthwiseWideRows", Make(1, 3, 5, 70, 3, 3, 3, 1, 1, 1, 3)},
      {"DepthwiseKernel5MoreTapsThanRegisters", Make(1, 4, 9, 10, 4, 5, 5, 1, 2, 1, 4)},
      {"DepthwiseStride2Pad0EvenSizes", Make(1, 6, 8, 8, 6, 3, 3, 2, 0, 1, 6)},
      {"DepthwiseDilation2", Make(1, 5, 11, 12, 5, 3, 3, 1, 2, 2, 5)},
      {"DepthwisePadBeyondKernelReach", Make(1, 4, 5, 6, 4, 1, 1, 1, 1, 1, 4)},
      {"DepthwiseStride3", Make(1, 3, 14, 17, 3, 3, 3, 3, 1, 1, 3)},
      {"DepthwiseThreadedManyChannels", Make(2, 96, 14, 14, 96, 3, 3, 1, 1, 1, 96)},
      {"DepthwiseThreadedStride2", Make(2, 64, 15, 15, 64, 3, 3, 2, 1, 1, 64)},
      {"DepthwiseRoundStride2", Make(1, 16, 16, 16, 16, 3, 3, 2, 1, 1, 16)},
      // Stride-2 row kernels: rows of several vectors with an overlapping last one (out_w 23,
      // 56), an even kernel, a kernel with more taps than the row kernels keep (phased path).
      {"DepthwiseStride2WideOddRows", Make(2, 5, 9, 45, 5, 3, 3, 2, 1, 1, 5)},
      {"DepthwiseStride2MobileNetWidth", Make(1, 3, 6, 112, 3, 3, 3, 2, 1, 1, 3)},
      {"DepthwiseStride2EvenKernel", Make(1, 4, 10, 37, 4, 2, 2, 2, 1, 1, 4)},
      {"DepthwiseStride2Kernel5Pad2", Make(1, 3, 11, 40, 3, 5, 5, 2, 2, 1, 3)},
  };
  v.insert(v.end(), depthwise.begin(), depthwise.end());
  Conv2dShape dw_rect = Make(2, 5, 9, 12, 5, 3, 3, 1, 1, 1, 5);
  dw_rect.stride_w = 2;
  dw_rect.pad_h = 0;
  v.push_back({"DepthwiseRectangularStridePad", dw_rect});
  Conv2dShape dw_rows = Make(1, 3, 11, 41, 3, 3, 1, 1, 1, 1, 3);  // a 3x1 kernel, stride (1, 2)
  dw_rows.stride_w = 2;
  dw_rows.pad_w = 0;
  v.push_back({"DepthwiseRowStride1ColumnStride2", dw_rows});
  // Rectangular stride / padding / dilation.
  Conv2dShape rect = Make(2, 3, 9, 7, 4, 3, 2, 1, 1);
  rect.stride_w = 2;
  rect.pad_w = 0;
  rect.dilation_h = 2;
  rect.pad_h = 2;
  v.push_back({"RectangularStridePadDilation", rect});
  return v;
}

// The shapes of TestShapes() on which every applicable algorithm of every pass is forced: odd
// and round sizes and each algorithm's special cases (Winograd at both strides and below its
// channel threshold, the direct layouts, stride-2 col2im, groups, dilation, depthwise).
inline std::vector<NamedShape> AlgorithmShapes() {
  const std::vector<std::string> names = {
      "Basic3x3OddChannels", "Round3x3", "Stride2Pad1", "Round3x3Stride2Pad0",
      "WinogradPad1OddSizes", "WinogradStride2Pad1OddSizes", "Pointwise1x1",
      "Pointwise1x1Stride2", "Kernel5Pad2Wide", "Kernel7Stride2Pad3", "Dilation2", "Groups2",
      "ManyInputChannelsCrossKBlocks", "Depthwise", "DepthwiseStride2Pad1OddSizes",
      "DepthwiseRoundStride2", "Stride2OutputWidth16", "Stride1NarrowRowsVirtualGrid",
      "Im2colSmallImagesBatch7", "Pointwise1x1OddChannelsBatch7", "Pointwise1x1Groups2",
      "Pointwise1x1TransposedGradient"};
  std::vector<NamedShape> out;
  for (const NamedShape& ns : TestShapes()) {
    if (std::find(names.begin(), names.end(), ns.name) != names.end()) out.push_back(ns);
  }
  EXPECT_EQ(out.size(), names.size()) << "a name in AlgorithmShapes() is not in TestShapes()";
  return out;
}

// |got - want| <= (len + 4) * eps_f32 * abs_terms + tiny, the bound of a length-len float
// accumulation (blocked or not) of terms whose absolute values sum to abs_terms.
inline void ExpectWithinBound(const std::string& what, const float* got, const double* want,
                              const double* abs_terms, size_t n, size_t len) {
  const double eps = std::numeric_limits<float>::epsilon();
  size_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    const double tol = (len + 4) * eps * abs_terms[i] + 1e-30;
    if (!(std::abs(got[i] - want[i]) <= tol) && bad++ < 3) {
      ADD_FAILURE() << what << ": element " << i << " = " << got[i] << ", reference " << want[i]
                    << ", bound " << tol;
    }
  }
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << n << " elements outside the bound";
}

inline std::vector<float> Random(size_t n, Rng& rng) {
  std::vector<float> v(n + 1);  // + 1: never empty
  rng.FillUniform(v.data(), v.size(), -1.0f, 1.0f);
  return v;
}
inline std::vector<double> ToDouble(const std::vector<float>& v) {
  return std::vector<double>(v.begin(), v.end());
}

// A shape with a generated name (NamedShape's is a static string).
struct OwnedShape {
  std::string name;
  Conv2dShape s;
};

// Depthwise 3x3 shapes on odd channel counts (1, 3, 17) and planes (1x1, 5x7, 7x7, 13x13),
// strides 1 and 2, padding 0 and 1, batch 2; then the fused backward's special cases: an even
// kernel, padding kernel - 1 (no dy margin), a 1x5 kernel, stride (1, 2), and shapes with
// enough work for two threads (rows of a vector and more: dx written in place).
inline std::vector<OwnedShape> DepthwiseBackwardShapes() {
  std::vector<OwnedShape> v;
  const size_t planes[4][2] = {{1, 1}, {5, 7}, {7, 7}, {13, 13}};
  for (size_t c : {1, 3, 17}) {
    for (const auto& plane : planes) {
      for (size_t stride : {1, 2}) {
        for (size_t pad : {0, 1}) {
          if (plane[0] + 2 * pad < 3 || plane[1] + 2 * pad < 3) continue;
          v.push_back({"DepthwiseC" + std::to_string(c) + "Plane" + std::to_string(plane[0]) +
                           "x" + std::to_string(plane[1]) + "Stride" + std::to_string(stride) +
                           "Pad" + std::to_string(pad),
                       Make(2, c, plane[0], plane[1], c, 3, 3, stride, pad, 1, c)});
        }
      }
    }
  }
  v.push_back({"DepthwiseEvenKernelPad1", Make(2, 3, 6, 9, 3, 2, 2, 1, 1, 1, 3)});
  v.push_back({"DepthwisePadKernelMinus1", Make(2, 5, 6, 11, 5, 3, 3, 1, 2, 1, 5)});
  Conv2dShape row_kernel = Make(3, 4, 5, 19, 4, 1, 5, 1, 0, 1, 4);
  row_kernel.pad_w = 2;
  v.push_back({"DepthwiseKernel1x5", row_kernel});
  Conv2dShape s12 = Make(2, 3, 9, 20, 3, 3, 3, 1, 1, 1, 3);
  s12.stride_w = 2;
  v.push_back({"DepthwiseStride1x2", s12});
  v.push_back({"DepthwiseThreadedWideRows", Make(4, 40, 28, 37, 40, 3, 3, 1, 1, 1, 40)});
  v.push_back({"DepthwiseThreadedStride2", Make(4, 40, 28, 37, 40, 3, 3, 2, 1, 1, 40)});
  v.push_back({"DepthwiseThreaded7x7", Make(16, 96, 7, 7, 96, 3, 3, 1, 1, 1, 96)});
  return v;
}

// Requires got == want bit for bit (NaNs equal).
inline void ExpectSameBits(const std::string& what, const std::vector<float>& got,
                           const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!(got[i] == want[i] || (std::isnan(got[i]) && std::isnan(want[i])))) {
      ADD_FAILURE() << what << ": element " << i << " = " << got[i] << ", expected " << want[i];
      return;
    }
  }
}

// Conv2dBackwardDataAndWeights on one and two threads equals Conv2dBackwardData followed by
// Conv2dBackwardWeights (one thread) bit for bit, with and without the bias gradient, and
// writes nothing past dx.
inline void CheckFusedBackward(const NamedShape& ns, ThreadPool& one, ThreadPool& two,
                               uint64_t seed) {
  const Conv2dShape& s = ns.s;
  const size_t x_size = s.batch * s.in_channels * s.in_h * s.in_w;
  const size_t w_size =
      s.out_channels * (s.in_channels / s.groups) * s.kernel_h * s.kernel_w;
  const size_t y_size = s.batch * s.out_channels * s.out_h() * s.out_w();
  Rng rng(seed);
  const std::vector<float> x = Random(x_size, rng), w = Random(w_size, rng);
  const std::vector<float> dy = Random(y_size, rng), dw0 = Random(w_size, rng),
                           db0 = Random(s.out_channels, rng);
  const ConvPlan plan = PlanConv2d(s);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> dx_want(x_size + 1, nan), dw_want = dw0, db_want = db0;
  Conv2dBackwardData(plan, s, dy.data(), w.data(), dx_want.data(), one);
  Conv2dBackwardWeights(plan, s, x.data(), dy.data(), dw_want.data(), db_want.data(), one);
  for (ThreadPool* pool : {&one, &two}) {
    const std::string what =
        std::string(ns.name) + " fused threads=" + std::to_string(pool->NumThreads());
    std::vector<float> dx(x_size + 1, nan), dw = dw0, db = db0;
    Conv2dBackwardDataAndWeights(plan, s, x.data(), dy.data(), w.data(), dx.data(), dw.data(),
                                 db.data(), *pool);
    ExpectSameBits(what + " dx", dx, dx_want);
    ExpectSameBits(what + " dw", dw, dw_want);
    ExpectSameBits(what + " dbias", db, db_want);
    std::vector<float> dx2(x_size + 1, nan), dw2 = dw0;
    Conv2dBackwardDataAndWeights(plan, s, x.data(), dy.data(), w.data(), dx2.data(), dw2.data(),
                                 nullptr, *pool);
    ExpectSameBits(what + " no bias: dx", dx2, dx_want);
    ExpectSameBits(what + " no bias: dw", dw2, dw_want);
  }
}

// F(4x4, 3x3)'s matrices (Lavin & Gray 2016; points 0, +-1, +-2, inf), for the bounds below.
constexpr double kWino4BT[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0},
                                   {0, 4, -4, -1, 1, 0}, {0, -2, -1, 2, 1, 0},
                                   {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
constexpr double kWino4G[6][3] = {{0.25, 0, 0},
                                  {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                  {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                  {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                  {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                  {0, 0, 1}};
constexpr double kWino4AT[4][6] = {
    {1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};

// |B^T| |d_c| |B| of the zero-padded 6x6 input patch of 4x4 tile (tr, tc) of image n, for each
// channel c of group g: v[c * 36 + i * 6 + l].
inline void Winograd4AbsInput(const Conv2dShape& s, const float* x, size_t n, size_t g, size_t tr,
                              size_t tc, double* v) {
  const size_t cg = s.in_channels / s.groups;
  for (size_t c = 0; c < cg; ++c) {
    const float* xc = x + ((n * s.in_channels + g * cg + c) * s.in_h) * s.in_w;
    double t[6][6] = {};  // |B^T| |d|
    for (size_t a = 0; a < 6; ++a) {
      for (size_t b = 0; b < 6; ++b) {
        const long ih = static_cast<long>(4 * tr + a) - static_cast<long>(s.pad_h);
        const long iw = static_cast<long>(4 * tc + b) - static_cast<long>(s.pad_w);
        if (ih < 0 || iw < 0 || ih >= static_cast<long>(s.in_h) ||
            iw >= static_cast<long>(s.in_w)) {
          continue;
        }
        const double d = std::abs(xc[ih * static_cast<long>(s.in_w) + iw]);
        for (size_t i = 0; i < 6; ++i) t[i][b] += std::abs(kWino4BT[i][a]) * d;
      }
    }
    for (size_t i = 0; i < 6; ++i) {
      for (size_t l = 0; l < 6; ++l) {
        double sum = 0.0;
        for (size_t b = 0; b < 6; ++b) sum += t[i][b] * std::abs(kWino4BT[l][b]);
        v[c * 36 + i * 6 + l] = sum;
      }
    }
  }
}

// Returns, per output of the convolution s (3x3, stride 1, no dilation), F(4x4, 3x3) computed
// in double on absolute values: |A^T| [ sum_c (|G| |g_kc| |G^T|) .* (|B^T| |d_c| |B|) ] |A|
// (+ |bias|), over the zero-padded 6x6 patch of the output's 4x4 tile. Every intermediate of the
// float kernel (transformed input and weights, their products, the GEMM's partial sums, the
// output transform's terms) is bounded by the matching entry of this computation, so its
// error is at most about (cg + 16) eps times it (4 eps per transform direction and for the
// product, cg eps for the sums over the channels).
inline std::vector<double> Winograd4AbsTerms(const Conv2dShape& s, const float* x, const float* w,
                                             const float* bias) {
  const size_t cg = s.in_channels / s.groups, kg = s.out_channels / s.groups;
  const size_t oh = s.out_h(), ow = s.out_w(), th = (oh + 3) / 4, tw = (ow + 3) / 4;
  std::vector<double> out(s.batch * s.out_channels * oh * ow + 1, 0.0);
  // |G| |g| |G^T| per (k, c).
  std::vector<double> u(s.out_channels * cg * 36);
  for (size_t kc = 0; kc < s.out_channels * cg; ++kc) {
    double t[6][3];
    for (size_t i = 0; i < 6; ++i) {
      for (size_t b = 0; b < 3; ++b) {
        t[i][b] = 0.0;
        for (size_t a = 0; a < 3; ++a) {
          t[i][b] += std::abs(kWino4G[i][a] * w[kc * 9 + a * 3 + b]);
        }
      }
    }
    for (size_t i = 0; i < 6; ++i) {
      for (size_t l = 0; l < 6; ++l) {
        double sum = 0.0;
        for (size_t b = 0; b < 3; ++b) sum += t[i][b] * std::abs(kWino4G[l][b]);
        u[kc * 36 + i * 6 + l] = sum;
      }
    }
  }
  std::vector<double> v(cg * 36);
  for (size_t n = 0; n < s.batch; ++n) {
    for (size_t g = 0; g < s.groups; ++g) {
      for (size_t tr = 0; tr < th; ++tr) {
        for (size_t tc = 0; tc < tw; ++tc) {
          Winograd4AbsInput(s, x, n, g, tr, tc, v.data());
          for (size_t k = 0; k < kg; ++k) {
            double m[36] = {};
            for (size_t c = 0; c < cg; ++c) {
              const double* uk = u.data() + ((g * kg + k) * cg + c) * 36;
              for (size_t xi = 0; xi < 36; ++xi) m[xi] += uk[xi] * v[c * 36 + xi];
            }
            const size_t ko = n * s.out_channels + g * kg + k;
            for (size_t r = 0; r < 4 && 4 * tr + r < oh; ++r) {
              for (size_t q = 0; q < 4 && 4 * tc + q < ow; ++q) {
                double sum = 0.0;
                for (size_t i = 0; i < 6; ++i) {
                  for (size_t l = 0; l < 6; ++l) {
                    sum += std::abs(kWino4AT[r][i]) * m[i * 6 + l] * std::abs(kWino4AT[q][l]);
                  }
                }
                if (bias != nullptr) sum += std::abs(bias[g * kg + k]);
                out[(ko * oh + 4 * tr + r) * ow + 4 * tc + q] = sum;
              }
            }
          }
        }
      }
    }
  }
  return out;
}

// Per tap of dW (out_channels, cg, 3, 3) of the convolution s (3x3, stride 1, no dilation), the
// F(4x4, 3x3) weight gradient computed in double on absolute values:
// |G^T| [ sum over 4x4 tiles (|A| |dY| |A^T|) .* (|B^T| |d| |B|) ] |G|, the bound of its
// rounded intermediates (the float kernel's error is within about (tiles + 16) eps times it).
inline std::vector<double> Winograd4WeightAbsTerms(const Conv2dShape& s, const float* x,
                                                   const float* dy) {
  const size_t cg = s.in_channels / s.groups, kg = s.out_channels / s.groups;
  const size_t oh = s.out_h(), ow = s.out_w(), th = (oh + 3) / 4, tw = (ow + 3) / 4;
  std::vector<double> du(s.out_channels * cg * 36, 0.0), v(cg * 36);
  for (size_t n = 0; n < s.batch; ++n) {
    for (size_t g = 0; g < s.groups; ++g) {
      for (size_t tr = 0; tr < th; ++tr) {
        for (size_t tc = 0; tc < tw; ++tc) {
          Winograd4AbsInput(s, x, n, g, tr, tc, v.data());
          for (size_t k = 0; k < kg; ++k) {  // |A| |dY| |A^T|, then the products
            const float* yk = dy + ((n * s.out_channels + g * kg + k) * oh) * ow;
            double t[6][4] = {}, m[36];
            for (size_t r = 0; r < 4 && 4 * tr + r < oh; ++r) {
              for (size_t q = 0; q < 4 && 4 * tc + q < ow; ++q) {
                const double y = std::abs(yk[(4 * tr + r) * ow + 4 * tc + q]);
                for (size_t i = 0; i < 6; ++i) t[i][q] += std::abs(kWino4AT[r][i]) * y;
              }
            }
            for (size_t i = 0; i < 6; ++i) {
              for (size_t l = 0; l < 6; ++l) {
                m[i * 6 + l] = 0.0;
                for (size_t q = 0; q < 4; ++q) {
                  m[i * 6 + l] += t[i][q] * std::abs(kWino4AT[q][l]);
                }
              }
            }
            double* duk = du.data() + (g * kg + k) * cg * 36;
            for (size_t c = 0; c < cg; ++c) {
              for (size_t xi = 0; xi < 36; ++xi) duk[c * 36 + xi] += m[xi] * v[c * 36 + xi];
            }
          }
        }
      }
    }
  }
  std::vector<double> out(s.out_channels * cg * 9 + 1, 0.0);
  for (size_t kc = 0; kc < s.out_channels * cg; ++kc) {
    for (size_t a = 0; a < 3; ++a) {
      for (size_t b = 0; b < 3; ++b) {
        double sum = 0.0;
        for (size_t i = 0; i < 6; ++i) {
          for (size_t l = 0; l < 6; ++l) {
            sum += std::abs(kWino4G[i][a]) * du[kc * 36 + i * 6 + l] * std::abs(kWino4G[l][b]);
          }
        }
        out[kc * 9 + a * 3 + b] = sum;
      }
    }
  }
  return out;
}

// Weights w (out_channels, cg, R, S) of s flipped and channel-transposed for the flipped
// convolution (FlippedConvShape(s)), as the backward-data dispatch builds them.
inline std::vector<float> FlippedWeights(const Conv2dShape& s, const std::vector<float>& w) {
  const size_t cg = s.in_channels / s.groups, kg = s.out_channels / s.groups;
  const size_t rs = s.kernel_h * s.kernel_w;
  std::vector<float> wt(s.out_channels * cg * rs + 1);
  for (size_t g = 0; g < s.groups; ++g) {
    for (size_t c = 0; c < cg; ++c) {
      for (size_t k = 0; k < kg; ++k) {
        for (size_t i = 0; i < rs; ++i) {
          wt[((g * cg + c) * kg + k) * rs + rs - 1 - i] = w[((g * kg + k) * cg + c) * rs + i];
        }
      }
    }
  }
  return wt;
}

// Runs the passes of one shape with `plan` on `pool` (only `pass` when given) and checks them
// against the reference.
inline void CheckShape(const NamedShape& ns, const ConvPlan& plan, ThreadPool& pool,
                       uint64_t seed, const ConvPass* only = nullptr) {
  const Conv2dShape& s = ns.s;
  std::string name = std::string(ns.name) + " threads=" + std::to_string(pool.NumThreads());
  const size_t cg = s.in_channels / s.groups, kg = s.out_channels / s.groups;
  const size_t p = s.out_h() * s.out_w();
  const size_t x_size = s.batch * s.in_channels * s.in_h * s.in_w;
  const size_t w_size = s.out_channels * cg * s.kernel_h * s.kernel_w;
  const size_t y_size = s.batch * s.out_channels * p;
  Rng rng(seed);
  const std::vector<float> x = Random(x_size, rng), w = Random(w_size, rng);
  const std::vector<float> bias = Random(s.out_channels, rng), dy = Random(y_size, rng);
  const std::vector<double> xd = ToDouble(x), wd = ToDouble(w), bd = ToDouble(bias),
                            dyd = ToDouble(dy);
  const auto runs = [only](ConvPass pass) { return only == nullptr || *only == pass; };

  if (runs(ConvPass::kForward)) {
    const std::string fname = name + " " + ConvPassPlanString(plan, ConvPass::kForward);
    // F(4x4, 3x3): bounded by its absolute-value computation (see Winograd4AbsTerms).
    const bool wino4 = plan.forward.algorithm == ConvAlgorithm::kWinograd4;
    for (bool relu : {false, true}) {
      std::vector<float> y(y_size + 1, std::numeric_limits<float>::quiet_NaN());
      Conv2dForward(plan, s, x.data(), w.data(), bias.data(), y.data(),
                    relu ? ConvEpilogue::kRelu : ConvEpilogue::kNone, pool);
      std::vector<double> ref(y_size + 1), abs_terms(y_size + 1);
      Conv2dForwardReference<double>(s, xd.data(), wd.data(), bd.data(), relu, ref.data(),
                                     abs_terms.data());
      if (wino4) {
        ExpectWithinBound(fname + (relu ? " forward+bias+relu" : " forward+bias"), y.data(),
                          ref.data(), Winograd4AbsTerms(s, x.data(), w.data(), bias.data()).data(),
                          y_size, cg + 16);
        continue;
      }
      ExpectWithinBound(fname + (relu ? " forward+bias+relu" : " forward+bias"), y.data(),
                        ref.data(), abs_terms.data(), y_size, cg * s.kernel_h * s.kernel_w + 1);
    }
    std::vector<float> y(y_size + 1, std::numeric_limits<float>::quiet_NaN());
    Conv2dForward(plan, s, x.data(), w.data(), nullptr, y.data(), ConvEpilogue::kNone, pool);
    std::vector<double> ref(y_size + 1), abs_terms(y_size + 1);
    Conv2dForwardReference<double>(s, xd.data(), wd.data(), nullptr, false, ref.data(),
                                   abs_terms.data());
    if (wino4) {
      ExpectWithinBound(fname + " forward", y.data(), ref.data(),
                        Winograd4AbsTerms(s, x.data(), w.data(), nullptr).data(), y_size, cg + 16);
    } else {
      ExpectWithinBound(fname + " forward", y.data(), ref.data(), abs_terms.data(), y_size,
                        cg * s.kernel_h * s.kernel_w);
    }
  }
  if (runs(ConvPass::kBackwardData)) {
    std::vector<float> dx(x_size + 1, std::numeric_limits<float>::quiet_NaN());
    Conv2dBackwardData(plan, s, dy.data(), w.data(), dx.data(), pool);
    std::vector<double> ref(x_size + 1), abs_terms(x_size + 1);
    Conv2dBackwardDataReference<double>(s, dyd.data(), wd.data(), ref.data(), abs_terms.data());
    const std::string bname =
        name + " backward-data " + ConvPassPlanString(plan, ConvPass::kBackwardData);
    if (plan.backward_data.algorithm == ConvAlgorithm::kWinograd) {
      // The Winograd<2> adjoint sums each input pixel from the 5x5 patches of its tiles, whose
      // transforms cancel the products of neighbouring pixels exactly only in real arithmetic:
      // its bound is 4 (len + 8) eps times the abs terms of the pixel's 5x5 neighbourhood.
      std::vector<double> window(x_size + 1, 0.0);
      const long h = static_cast<long>(s.in_h), w = static_cast<long>(s.in_w);
      for (size_t i = 0; i < x_size; ++i) {
        const long plane = static_cast<long>(i) / (h * w), ih = static_cast<long>(i) / w % h;
        const long iw = static_cast<long>(i) % w;
        for (long r = std::max(0L, ih - 2); r <= std::min(h - 1, ih + 2); ++r) {
          for (long q = std::max(0L, iw - 2); q <= std::min(w - 1, iw + 2); ++q) {
            window[i] += 4.0 * abs_terms[(plane * h + r) * w + q];
          }
        }
      }
      ExpectWithinBound(bname, dx.data(), ref.data(), window.data(), x_size,
                        kg * s.kernel_h * s.kernel_w + 8);
    } else if (plan.backward_data.algorithm == ConvAlgorithm::kFlippedForward &&
               plan.flipped.algorithm == ConvAlgorithm::kWinograd4) {
      // The flipped forward with F(4x4, 3x3): its bound on the flipped convolution.
      const std::vector<float> wt = FlippedWeights(s, w);
      ExpectWithinBound(
          bname, dx.data(), ref.data(),
          Winograd4AbsTerms(FlippedConvShape(s), dy.data(), wt.data(), nullptr).data(), x_size,
          kg + 16);
    } else {
      ExpectWithinBound(bname, dx.data(), ref.data(), abs_terms.data(), x_size,
                        kg * s.kernel_h * s.kernel_w);
    }
  }
  if (runs(ConvPass::kBackwardWeights)) {
    name += " backward-weights " + ConvPassPlanString(plan, ConvPass::kBackwardWeights);
    // Gradients accumulate onto the existing dw / dbias.
    std::vector<float> dw = Random(w_size, rng), dbias = Random(s.out_channels, rng);
    std::vector<double> ref(w_size + 1), abs_terms(w_size + 1);
    std::vector<double> ref_b(s.out_channels + 1), abs_b(s.out_channels + 1);
    Conv2dBackwardWeightsReference<double>(s, xd.data(), dyd.data(), ref.data(), ref_b.data(),
                                           abs_terms.data(), abs_b.data());
    for (size_t i = 0; i < w_size; ++i) {
      ref[i] += dw[i];
      abs_terms[i] += std::abs(dw[i]);
    }
    for (size_t i = 0; i < s.out_channels; ++i) {
      ref_b[i] += dbias[i];
      abs_b[i] += std::abs(dbias[i]);
    }
    Conv2dBackwardWeights(plan, s, x.data(), dy.data(), dw.data(), dbias.data(), pool);
    const size_t len = s.batch * p + pool.NumThreads() + 1;
    if (plan.backward_weights.algorithm == ConvAlgorithm::kWinograd) {
      // Winograd sums, per tile, products dy_o * x_p of every output o of the 2x2 tile with
      // every input p of o's 3x3 window, each in up to 4 of the transform points, and cancels
      // those of other taps exactly only in real arithmetic. Its bound: 4 (len + 8) eps times
      // the abs terms of the whole 3x3 window of the tap's (k, c) (the bound above can fail
      // when the tap's own terms are few and small, e.g. mostly padding).
      const size_t rs = s.kernel_h * s.kernel_w;
      std::vector<double> window(w_size + 1, 0.0);
      for (size_t i = 0; i < w_size; ++i) {
        for (size_t t = 0; t < rs; ++t) window[i] += 4.0 * abs_terms[i / rs * rs + t];
      }
      ExpectWithinBound(name, dw.data(), ref.data(), window.data(), w_size, len + 4);
    } else if (plan.backward_weights.algorithm == ConvAlgorithm::kWinograd4) {
      // F(4x4, 3x3): bounded by its absolute-value computation (Winograd4WeightAbsTerms)
      // plus the existing dw.
      std::vector<double> bound = Winograd4WeightAbsTerms(s, x.data(), dy.data());
      for (size_t i = 0; i < w_size; ++i) bound[i] += abs_terms[i];
      const size_t tiles = s.batch * ((s.out_h() + 3) / 4) * ((s.out_w() + 3) / 4);
      ExpectWithinBound(name, dw.data(), ref.data(), bound.data(), w_size,
                        tiles + pool.NumThreads() + 16);
    } else {
      ExpectWithinBound(name, dw.data(), ref.data(), abs_terms.data(), w_size, len);
    }
    ExpectWithinBound(name + " bias", dbias.data(), ref_b.data(), abs_b.data(),
                      s.out_channels, len);
  }
}

// Runs every applicable algorithm of every pass of one shape (forced) on `pool`.
inline void CheckEveryAlgorithm(const NamedShape& ns, ThreadPool& pool, uint64_t seed) {
  const ConvTarget target = CurrentConvTarget();
  for (ConvPass pass :
       {ConvPass::kForward, ConvPass::kBackwardData, ConvPass::kBackwardWeights}) {
    for (ConvAlgorithm a : ApplicableConvAlgorithms(ns.s, pass)) {
      CheckShape(ns, ForceConvAlgorithm(ns.s, target, pass, a), pool, seed, &pass);
    }
  }
}

// Runs forward, backward-data and backward-weights twice and requires identical bits.
inline void CheckDeterministic(const Conv2dShape& s, ThreadPool& pool) {
  const size_t cg = s.in_channels / s.groups;
  const size_t x_size = s.batch * s.in_channels * s.in_h * s.in_w;
  const size_t w_size = s.out_channels * cg * s.kernel_h * s.kernel_w;
  const size_t y_size = s.batch * s.out_channels * s.out_h() * s.out_w();
  Rng rng(99);
  const std::vector<float> x = Random(x_size, rng), w = Random(w_size, rng);
  const std::vector<float> dy = Random(y_size, rng);
  std::vector<float> results[2];
  for (int run = 0; run < 2; ++run) {
    std::vector<float> y(y_size), dx(x_size), dw(w_size, 0.0f), db(s.out_channels, 0.0f);
    Conv2dForward(s, x.data(), w.data(), nullptr, y.data(), ConvEpilogue::kNone, pool);
    Conv2dBackwardData(s, dy.data(), w.data(), dx.data(), pool);
    Conv2dBackwardWeights(s, x.data(), dy.data(), dw.data(), db.data(), pool);
    for (const auto* v : {&y, &dx, &dw, &db}) {
      results[run].insert(results[run].end(), v->begin(), v->end());
    }
  }
  ASSERT_EQ(results[0].size(), results[1].size());
  for (size_t i = 0; i < results[0].size(); ++i) {
    ASSERT_EQ(results[0][i], results[1][i]) << "element " << i;
  }
}

// Small-channel shapes for the channel-lanes and pixel-rows kernels: odd channel counts (1, 3,
// 6, 17) on 1x1, 5x5, 14x14 and 13x11 planes, kernels 3 and 5, padding 0 and 2, batch 1 and 3,
// and round ones (LeNet-5's two convolutions, 16 and 32 channels).
inline std::vector<NamedShape> SmallChannelShapes() {
  static const char* const kNames[] = {"Plane1x1", "Plane5x5", "Plane14x14", "Plane13x11"};
  const size_t planes[4][2] = {{1, 1}, {5, 5}, {14, 14}, {13, 11}};
  const size_t pairs[6][2] = {{1, 6}, {3, 17}, {6, 16}, {17, 3}, {6, 6}, {3, 1}};
  std::vector<NamedShape> v;
  static std::deque<std::string> names;  // NamedShape holds a const char*: stable strings
  size_t i = 0;
  for (size_t pl = 0; pl < 4; ++pl) {
    for (size_t k : {3, 5}) {
      for (size_t pad : {0, 2}) {
        if (planes[pl][0] + 2 * pad < k || planes[pl][1] + 2 * pad < k) continue;
        const size_t* c = pairs[i % 6];
        const size_t batch = i % 2 == 0 ? 1 : 3;
        ++i;
        names.push_back(std::string(kNames[pl]) + "C" + std::to_string(c[0]) + "K" +
                        std::to_string(c[1]) + "R" + std::to_string(k) + "Pad" +
                        std::to_string(pad) + "N" + std::to_string(batch));
        v.push_back({names.back().c_str(),
                     Make(batch, c[0], planes[pl][0], planes[pl][1], c[1], k, k, 1, pad)});
      }
    }
  }
  v.push_back({"LeNetConv1", Make(3, 1, 28, 28, 6, 5, 5, 1, 2)});
  v.push_back({"LeNetConv2", Make(3, 6, 14, 14, 16, 5, 5, 1, 0)});
  v.push_back({"Round16Channels3x3", Make(2, 16, 16, 16, 16, 3, 3, 1, 1)});
  v.push_back({"Round8To32Kernel5Pad2", Make(1, 8, 8, 8, 32, 5, 5, 1, 2)});
  v.push_back({"Stride2Channels6To16", Make(3, 6, 15, 15, 16, 3, 3, 2, 1)});
  v.push_back({"Groups2Channels6To12", Make(2, 6, 9, 10, 12, 3, 3, 1, 1, 1, 2)});
  v.push_back({"Dilation2Channels5To7", Make(1, 5, 11, 13, 7, 3, 3, 1, 2, 2)});
  // Output rows that see only padding (a 1x1 kernel with pad 1): pixel rows store the bias.
  v.push_back({"Pointwise1x1Pad1PaddingOnlyRows", Make(2, 3, 4, 5, 6, 1, 1, 1, 1)});
  Conv2dShape row_stride2 = Make(1, 4, 9, 12, 5, 3, 3, 1, 2, 2);  // row stride 2, dilation 2
  row_stride2.stride_h = 2;
  v.push_back({"RowStride2Pad2Dilation2", row_stride2});
  return v;
}

// Checks the small-channel kernels on one shape: forward with pixel rows (stride_w 1),
// backward-data as the flipped forward with pixel rows (when the flip applies), and the
// channel-lanes weight gradient.
inline void CheckSmallChannelKernels(const NamedShape& ns, ThreadPool& pool, uint64_t seed) {
  const ConvTarget target = CurrentConvTarget();
  ConvPlan plan =
      ForceConvAlgorithm(ns.s, target, ConvPass::kBackwardWeights, ConvAlgorithm::kChannelLanes);
  std::vector<ConvPass> passes = {ConvPass::kBackwardWeights};
  if (ConvAlgorithmApplies(ns.s, ConvPass::kForward, ConvAlgorithm::kPixelRows)) {
    plan.forward = {ConvAlgorithm::kPixelRows, "forced"};
    passes.push_back(ConvPass::kForward);
  }
  const Conv2dShape flipped = FlippedConvShape(ns.s);
  if (ConvAlgorithmApplies(ns.s, ConvPass::kBackwardData, ConvAlgorithm::kFlippedForward) &&
      ConvAlgorithmApplies(flipped, ConvPass::kForward, ConvAlgorithm::kPixelRows)) {
    plan.backward_data = {ConvAlgorithm::kFlippedForward, "forced"};
    plan.flipped = {ConvAlgorithm::kPixelRows, "forced"};
    passes.push_back(ConvPass::kBackwardData);
  }
  for (const ConvPass& pass : passes) CheckShape(ns, plan, pool, seed, &pass);
}

// F(4x4, 3x3) shapes: planes 1x1, 3x5, 7x7, 13x13, 17x17 (sides 1-3 past a multiple of 4),
// channels 1, 3, 17, 32, 33 each way, padding 0, 1 and 2, batch 1-2; then round ones
// (vgg-small's 32 -> 32 and 64 -> 64, 16x16 with 64 channels), groups, both channel counts
// above KC, and enough tiles for wide chunks.
inline std::vector<OwnedShape> Winograd4Shapes() {
  std::vector<OwnedShape> v;
  const size_t planes[5][2] = {{1, 1}, {3, 5}, {7, 7}, {13, 13}, {17, 17}};
  const size_t channels[5] = {1, 3, 17, 32, 33};
  size_t i = 0;
  for (const auto& plane : planes) {
    for (size_t pad : {0, 1, 2}) {
      if (plane[0] + 2 * pad < 3 || plane[1] + 2 * pad < 3) continue;
      const size_t c = channels[i % 5], k = channels[(i + 2) % 5], batch = 1 + i % 2;
      ++i;
      v.push_back({"Winograd4Plane" + std::to_string(plane[0]) + "x" + std::to_string(plane[1]) +
                       "C" + std::to_string(c) + "K" + std::to_string(k) + "Pad" +
                       std::to_string(pad) + "N" + std::to_string(batch),
                   Make(batch, c, plane[0], plane[1], k, 3, 3, 1, pad)});
    }
  }
  v.push_back({"Winograd4VggSmall32To32", Make(2, 32, 28, 28, 32, 3, 3, 1, 1)});
  v.push_back({"Winograd4VggSmall64To64", Make(2, 64, 14, 14, 64, 3, 3, 1, 1)});
  v.push_back({"Winograd4Round16x16", Make(1, 64, 16, 16, 64, 3, 3, 1, 1)});
  v.push_back({"Winograd4Groups2OddPlane", Make(2, 66, 9, 11, 64, 3, 3, 1, 1, 1, 2)});
  v.push_back({"Winograd4CrossKBlocks", Make(1, 260, 5, 6, 264, 3, 3, 1, 1)});
  v.push_back({"Winograd4WideChunks", Make(2, 144, 9, 9, 160, 3, 3, 1, 1)});
  return v;
}

// Forward and backward-weights with F(4x4, 3x3) forced, and backward-data as the flipped
// forward with F(4x4, 3x3) forced, against the reference within the bounds of
// Winograd4AbsTerms and Winograd4WeightAbsTerms.
inline void CheckWinograd4(const NamedShape& ns, ThreadPool& pool, uint64_t seed) {
  ConvPlan plan =
      ForceConvAlgorithm(ns.s, CurrentConvTarget(), ConvPass::kForward, ConvAlgorithm::kWinograd4);
  plan.backward_weights = {ConvAlgorithm::kWinograd4, "forced"};
  std::vector<ConvPass> passes = {ConvPass::kForward, ConvPass::kBackwardWeights};
  if (ConvAlgorithmApplies(ns.s, ConvPass::kBackwardData, ConvAlgorithm::kFlippedForward) &&
      ConvAlgorithmApplies(FlippedConvShape(ns.s), ConvPass::kForward, ConvAlgorithm::kWinograd4)) {
    plan.backward_data = {ConvAlgorithm::kFlippedForward, "forced"};
    plan.flipped = {ConvAlgorithm::kWinograd4, "forced"};
    passes.push_back(ConvPass::kBackwardData);
  }
  for (const ConvPass& pass : passes) CheckShape(ns, plan, pool, seed, &pass);
}

// Largest |y - reference| / sum |w| |x| (the output's abs terms) of the forward of s with
// `algorithm` forced, on activations-like data: x after a ReLU (half zeros, the rest uniform in
// [0, 2)), w uniform with He's scale (+- sqrt(6 / (9 cg))).
inline double ForwardRelativeError(const Conv2dShape& s, ConvAlgorithm algorithm,
                                   ThreadPool& pool) {
  const size_t cg = s.in_channels / s.groups;
  const size_t x_size = s.batch * s.in_channels * s.in_h * s.in_w;
  const size_t w_size = s.out_channels * cg * 9;
  const size_t y_size = s.batch * s.out_channels * s.out_h() * s.out_w();
  Rng rng(7);
  std::vector<float> x = Random(x_size, rng), w = Random(w_size, rng);
  for (float& v : x) v = std::max(0.0f, 2.0f * v);
  const float scale = std::sqrt(6.0f / (9.0f * static_cast<float>(cg)));
  for (float& v : w) v *= scale;
  std::vector<float> y(y_size + 1);
  Conv2dForward(ForceConvAlgorithm(s, CurrentConvTarget(), ConvPass::kForward, algorithm), s,
                x.data(), w.data(), nullptr, y.data(), ConvEpilogue::kNone, pool);
  const std::vector<double> xd = ToDouble(x), wd = ToDouble(w);
  std::vector<double> ref(y_size + 1), abs_terms(y_size + 1);
  Conv2dForwardReference<double>(s, xd.data(), wd.data(), nullptr, false, ref.data(),
                                 abs_terms.data());
  double worst = 0.0;
  for (size_t i = 0; i < y_size; ++i) {
    if (abs_terms[i] > 0.0) worst = std::max(worst, std::abs(y[i] - ref[i]) / abs_terms[i]);
  }
  return worst;
}

}  // namespace conv_test
}  // namespace simdnet
#endif  // SIMDNET_LAYERS_CONV2D_KERNELS_TEST_HELPERS_

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {

void TestConvAllShapesOneThread() {
  ThreadPool pool(1);
  uint64_t seed = 1;
  for (const auto& ns : conv_test::TestShapes()) {
    conv_test::CheckShape(ns, PlanConv2d(ns.s), pool, ++seed);
  }
}

void TestConvAllShapesTwoThreads() {
  ThreadPool pool(2);
  uint64_t seed = 1000;
  for (const auto& ns : conv_test::TestShapes()) {
    conv_test::CheckShape(ns, PlanConv2d(ns.s), pool, ++seed);
  }
}

void TestConvEveryAlgorithmForced() {
  ThreadPool one(1), two(2);
  uint64_t seed = 2000;
  for (const auto& ns : conv_test::AlgorithmShapes()) {
    ++seed;
    conv_test::CheckEveryAlgorithm(ns, seed % 2 == 0 ? one : two, seed);
  }
}

// The depthwise backward passes on odd shapes against the reference (planned algorithms, one
// or two threads), and the fused backward bit-identical to the separate passes.
void TestDepthwiseBackwardOddShapes() {
  ThreadPool one(1), two(2);
  uint64_t seed = 4000;
  for (const conv_test::OwnedShape& os : conv_test::DepthwiseBackwardShapes()) {
    ++seed;
    const conv_test::NamedShape ns{os.name.c_str(), os.s};
    conv_test::CheckShape(ns, PlanConv2d(os.s), seed % 2 == 0 ? one : two, seed);
    conv_test::CheckFusedBackward(ns, one, two, seed);
  }
}

void TestConvDeterministicForFixedThreads() {
  ThreadPool pool(2);
  conv_test::CheckDeterministic(conv_test::Make(3, 12, 11, 10, 14, 3, 3, 1, 1), pool);
  conv_test::CheckDeterministic(conv_test::Make(1, 8, 16, 16, 6, 3, 3, 2, 1), pool);
  conv_test::CheckDeterministic(conv_test::Make(2, 32, 10, 12, 33, 3, 3, 1, 1), pool);  // Winograd
  conv_test::CheckDeterministic(conv_test::Make(2, 32, 12, 14, 40, 3, 3, 2, 1), pool);  // stride 2
  conv_test::CheckDeterministic(conv_test::Make(4, 1, 12, 12, 8, 5, 5, 1, 2), pool);    // dot
  conv_test::CheckDeterministic(conv_test::Make(5, 70, 6, 7, 66, 1, 1, 1, 0), pool);  // 1x1
  conv_test::CheckDeterministic(conv_test::Make(2, 32, 9, 9, 32, 3, 3, 2, 1, 1, 32), pool);
}

void TestConvSmallChannelKernels() {
  ThreadPool one(1), two(2);
  uint64_t seed = 3000;
  for (const auto& ns : conv_test::SmallChannelShapes()) {
    ++seed;
    conv_test::CheckSmallChannelKernels(ns, one, seed);
    conv_test::CheckSmallChannelKernels(ns, two, seed);
    conv_test::CheckShape(ns, PlanConv2d(ns.s), seed % 2 == 0 ? one : two, seed);
  }
  // LeNet-5's second convolution plans the small-channel kernels in every pass (AVX-512 and
  // AVX2 vector units; see conv_plan_test), and they are bit-identical run to run.
  conv_test::CheckDeterministic(conv_test::Make(5, 6, 14, 14, 16, 5, 5, 1, 0), two);
  conv_test::CheckDeterministic(conv_test::Make(3, 1, 28, 28, 6, 5, 5, 1, 2), two);
}

// F(4x4, 3x3) forward, flipped backward-data and weight gradient on odd and round shapes, one
// and two threads, and bit-identical results run to run at a fixed thread count.
void TestWinograd4OddShapes() {
  ThreadPool one(1), two(2);
  uint64_t seed = 5000;
  for (const conv_test::OwnedShape& os : conv_test::Winograd4Shapes()) {
    ++seed;
    conv_test::CheckWinograd4({os.name.c_str(), os.s}, seed % 2 == 0 ? one : two, seed);
  }
  conv_test::CheckDeterministic(conv_test::Make(3, 32, 28, 28, 32, 3, 3, 1, 1), two);
  conv_test::CheckDeterministic(conv_test::Make(2, 64, 13, 11, 33, 3, 3, 1, 1), two);
}

// F(4x4, 3x3)'s rounding on vgg-small's convolutions with activations-like data, relative to
// sum |w| |x| per output, against F(2x2, 3x3) and the im2col GEMM (the direct sum). Measured
// (32 -> 32 on 28x28 / 64 -> 64 on 14x14, batch 2 and 4): F(4x4) 2.4-2.6e-6 / 1.7-1.8e-6 on
// AVX3 and AVX2, 2.9-3.0e-6 / 1.4-1.7e-6 on SSE4 and SCALAR (no FMA); F(2x2) 1.3-1.8e-7,
// im2col 0.9-3.1e-7. About 15x F(2x2)'s error, i.e. 15-25 float epsilons; the tolerance, 5e-6
// (42 epsilons), is still far below what training tolerates (bf16 training rounds each
// product to 4e-3).
void TestWinograd4ErrorOnVggSmall() {
  ThreadPool pool(2);
  for (const Conv2dShape& s : {conv_test::Make(2, 32, 28, 28, 32, 3, 3, 1, 1),
                               conv_test::Make(2, 64, 14, 14, 64, 3, 3, 1, 1)}) {
    const double e4 = conv_test::ForwardRelativeError(s, ConvAlgorithm::kWinograd4, pool);
    const double e2 = conv_test::ForwardRelativeError(s, ConvAlgorithm::kWinograd, pool);
    const double eg = conv_test::ForwardRelativeError(s, ConvAlgorithm::kIm2colGemm, pool);
    fprintf(stderr,
            "%s %zu -> %zu on %zux%zu: max |error| / sum |w||x|: F(4x4) %.3g, F(2x2) "
            "%.3g, im2col %.3g\n",
            hwy::TargetName(HWY_TARGET), s.in_channels, s.out_channels, s.in_h, s.in_w, e4, e2, eg);
    EXPECT_LT(e4, 5e-6);
    EXPECT_GT(e4, 0.0);  // F(4x4) does round: the measurement is not vacuous
  }
}

// CopyRow and ZeroRow (whole vectors, then RowTail's 8-, 4-lane and scalar pieces) write
// exactly [0, n) for every n up to past two vectors, at every offset modulo a vector.
void TestRowCopyAndZero() {
  const size_t lanes = hn::Lanes(GemmD());
  for (size_t offset = 0; offset < lanes; ++offset) {
    for (size_t n = 0; n <= 2 * lanes + 3; ++n) {
      std::vector<float> src(offset + n + 1), dst(offset + n + 1, -1.0f);
      for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>(i) + 0.5f;
      CopyRow(src.data() + offset, n, dst.data() + offset);
      for (size_t i = 0; i < dst.size(); ++i) {
        const bool in = i >= offset && i < offset + n;
        ASSERT_EQ(dst[i], in ? src[i] : -1.0f) << "CopyRow n=" << n << " offset=" << offset;
      }
      ZeroRow(n, dst.data() + offset);
      for (size_t i = 0; i < dst.size(); ++i) {
        const bool in = i >= offset && i < offset + n;
        ASSERT_EQ(dst[i], in ? 0.0f : -1.0f) << "ZeroRow n=" << n << " offset=" << offset;
      }
    }
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace simdnet {
HWY_BEFORE_TEST(Conv2dKernelsTest);
HWY_EXPORT_AND_TEST_P(Conv2dKernelsTest, TestDepthwiseBackwardOddShapes);
HWY_EXPORT_AND_TEST_P(Conv2dKernelsTest, TestConvAllShapesOneThread);
HWY_EXPORT_AND_TEST_P(Conv2dKernelsTest, TestConvAllShapesTwoThreads);
HWY_EXPORT_AND_TEST_P(Conv2dKernelsTest, TestConvDeterministicForFixedThreads);
HWY_EXPORT_AND_TEST_P(Conv2dKernelsTest, TestConvEveryAlgorithmForced);
HWY_EXPORT_AND_TEST_P(Conv2dKernelsTest, TestConvSmallChannelKernels);
HWY_EXPORT_AND_TEST_P(Conv2dKernelsTest, TestWinograd4OddShapes);
HWY_EXPORT_AND_TEST_P(Conv2dKernelsTest, TestWinograd4ErrorOnVggSmall);
HWY_EXPORT_AND_TEST_P(Conv2dKernelsTest, TestRowCopyAndZero);
}  // namespace simdnet
#endif  // HWY_ONCE
