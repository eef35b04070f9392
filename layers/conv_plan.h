// The convolution plan: which algorithm each pass (forward, backward-data, backward-weights)
// runs for a shape, and why. Every threshold that chooses an algorithm is in conv_plan.cc,
// beside the measurement that justifies it. The kernels (conv2d_kernels.h) run a plan; tests
// and benchmarks force each applicable algorithm on the same shape. SIMD-free.
#ifndef SIMDNET_LAYERS_CONV_PLAN_H_
#define SIMDNET_LAYERS_CONV_PLAN_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "layers/conv_common.h"

namespace simdnet {

enum class ConvPass : uint8_t { kForward, kBackwardData, kBackwardWeights };

// Convolution algorithms. Not every algorithm runs every pass or shape: see ConvAlgorithmApplies.
enum class ConvAlgorithm : uint8_t {
  // im2col / col2im GEMM (conv_gemm-inl.h): forward as an implicit GEMM with im2col fused into
  // the B packing; backward-data as GEMM + col2im; backward-weights as a GEMM with the
  // transposed im2col gathered. Any shape.
  kIm2colGemm,
  // Direct (conv_direct-inl.h) on a zero-padded, stride-phase-split copy of the image, weights
  // as the GEMM's A operand: forward (any shape) and backward-weights (in-place transposed GEMM,
  // any shape).
  kDirect,
  // Backward-data as the forward convolution of dy with the flipped, channel-transposed weights
  // (its own forward plan: ConvPlan::flipped). Stride 1 with padding within the kernel's reach.
  kFlippedForward,
  // Winograd F(2x2, 3x3) (conv_winograd*-inl.h): 3x3, equal strides 1 or 2, no dilation,
  // padding <= 2. Backward-data at stride 2 only (stride 1 runs kFlippedForward, which plans
  // Winograd for the flipped shape).
  kWinograd,
  // Dot-product weight gradient (conv_weight_grad-inl.h): backward-weights only, any shape.
  kDot,
  // Depthwise direct (conv_depthwise-inl.h): groups == in_channels == out_channels, all passes.
  kDepthwise,
  // Output channels in the vector lanes (conv_small-inl.h): backward-weights only, any shape;
  // for few output channels per group (whole vectors of them) and few pixels per image.
  kChannelLanes,
  // Pixel rows (conv_small-inl.h): forward with stride_w 1, output-row segments of one vector
  // and up to 8 output channels in registers, from a zero-padded copy of the image; for few
  // output channels per group and rows of about a vector (the flipped backward-data of small
  // convolutions).
  kPixelRows,
  // Winograd F(4x4, 3x3) (conv_winograd-inl.h): forward only, 3x3 stride 1, no dilation,
  // padding <= 2 (also the flipped backward-data of such convolutions). 6x6 = 36 points per
  // 4x4 output tile (F(2x2, 3x3): 16 per 2x2), rounding more than F(2x2, 3x3).
  kWinograd4,
};

// Layouts of the direct forward's pixel blocks (ConvForwardDirect in conv_direct-inl.h).
enum class DirectLayout : uint8_t {
  kRow,      // blocks of up to NR outputs inside one output row
  kDense,    // stride 1: NR consecutive outputs from copies shifted per kernel column
  kFlat,     // the virtual grid has no discarded columns: NR consecutive outputs in place
  kPair,     // output rows of exactly N: two rows per block
  kScatter,  // blocks over the virtual grid, real outputs scattered from a tile buffer
};

// The vector unit a plan is made for: float lanes per vector (N; the GEMM tile is NR = 2 N
// wide) and the GEMM tile's rows (kGemmMR).
struct ConvTarget {
  size_t lanes = 16;
  size_t mr = 8;
};

struct ConvPassPlan {
  ConvAlgorithm algorithm = ConvAlgorithm::kIm2colGemm;
  const char* reason = "";  // a static string: why this algorithm
};

// The algorithms are valid on every target; the direct layouts are for the planned target only
// (informational: the kernels re-derive them for the target they run on).
struct ConvPlan {
  ConvPassPlan forward, backward_data, backward_weights;
  DirectLayout forward_layout = DirectLayout::kRow;  // when forward is kDirect
  // When backward_data is kFlippedForward: the forward plan of the flipped convolution.
  ConvPassPlan flipped;
  DirectLayout flipped_layout = DirectLayout::kRow;

  const ConvPassPlan& Pass(ConvPass pass) const;
};

// Returns the plan for shape s on target t: the fastest algorithm per pass as measured (see the
// thresholds in conv_plan.cc).
ConvPlan PlanConv2d(const Conv2dShape& s, const ConvTarget& t);

// Returns whether `algorithm` can run `pass` of shape s.
bool ConvAlgorithmApplies(const Conv2dShape& s, ConvPass pass, ConvAlgorithm algorithm);

// Returns the algorithms that can run `pass` of shape s (at least one).
std::vector<ConvAlgorithm> ApplicableConvAlgorithms(const Conv2dShape& s, ConvPass pass);

// Returns PlanConv2d(s, t) with `pass` forced to `algorithm` (reason "forced").
// Requires: ConvAlgorithmApplies(s, pass, algorithm).
ConvPlan ForceConvAlgorithm(const Conv2dShape& s, const ConvTarget& t, ConvPass pass,
                            ConvAlgorithm algorithm);

// Returns the shape of the flipped convolution that kFlippedForward runs for backward-data.
Conv2dShape FlippedConvShape(const Conv2dShape& s);

// Returns the layout the direct forward uses for s on target t.
DirectLayout PlanDirectLayout(const Conv2dShape& s, const ConvTarget& t);

// Returns how the depthwise kernels lay out their pixel blocks for s on target t: kRow (blocks
// of up to N outputs inside one output row, stored in place) or kScatter (blocks over the
// virtual grid, computed into a buffer and copied out row by row).
DirectLayout PlanDepthwiseLayout(const Conv2dShape& s, const ConvTarget& t);

const char* ConvAlgorithmName(ConvAlgorithm algorithm);  // e.g. "winograd"
const char* ConvPassName(ConvPass pass);                 // "forward", ...
const char* DirectLayoutName(DirectLayout layout);       // e.g. "row"

// Returns the algorithm of one pass as text, e.g. "direct(dense)" or
// "flipped-forward(winograd)".
std::string ConvPassPlanString(const ConvPlan& plan, ConvPass pass);

}  // namespace simdnet

#endif  // SIMDNET_LAYERS_CONV_PLAN_H_
