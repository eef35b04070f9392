// Tests of the convolution plan: the algorithm each pass runs for the benchmark shapes
// (bench/shapes/conv_s1_s8.txt, conv_torchvision.txt) on AVX-512 and AVX2 vector units, which
// algorithms apply to which shapes, forcing, and the plan's text.
#include "layers/conv_plan.h"

#include <string>

#include "gtest/gtest.h"

namespace simdnet {
namespace {

// A square convolution: hw x hw images, r x r kernel, no dilation.
Conv2dShape Make(size_t n, size_t c, size_t hw, size_t k, size_t r, size_t stride, size_t pad,
                 size_t groups = 1) {
  return Conv2dShape{n, c, hw, hw, k, r, r, stride, stride, pad, pad, 1, 1, groups};
}

constexpr ConvTarget kAvx512{16, 8};
constexpr ConvTarget kAvx2{8, 6};

// "forward / backward-data / backward-weights" of the plan.
std::string Describe(const Conv2dShape& s, const ConvTarget& t) {
  const ConvPlan plan = PlanConv2d(s, t);
  return ConvPassPlanString(plan, ConvPass::kForward) + " / " +
         ConvPassPlanString(plan, ConvPass::kBackwardData) + " / " +
         ConvPassPlanString(plan, ConvPass::kBackwardWeights);
}

TEST(ConvPlanTest, BenchmarkShapesS1ToS8OnAvx512) {
  EXPECT_EQ(Describe(Make(64, 1, 28, 32, 5, 1, 2), kAvx512),
            "direct(dense) / im2col-gemm / dot");  // S1: one input channel
  EXPECT_EQ(Describe(Make(64, 32, 14, 64, 3, 1, 1), kAvx512),
            "winograd4x4 / flipped-forward(winograd4x4) / winograd4x4");  // S2
  EXPECT_EQ(Describe(Make(64, 3, 32, 64, 3, 1, 1), kAvx512),
            "direct(row) / im2col-gemm / dot");  // S3: the RGB stem
  EXPECT_EQ(Describe(Make(64, 64, 32, 64, 3, 1, 1), kAvx512),
            "winograd4x4 / flipped-forward(winograd4x4) / winograd4x4");  // S4
  EXPECT_EQ(Describe(Make(64, 256, 8, 256, 3, 1, 1), kAvx512),
            "winograd4x4 / flipped-forward(winograd4x4) / winograd");  // S6
  EXPECT_EQ(Describe(Make(64, 64, 32, 128, 3, 2, 1), kAvx512),
            "winograd / winograd / winograd");  // S7: stride 2
  EXPECT_EQ(Describe(Make(64, 64, 16, 256, 1, 1, 0), kAvx512),
            "im2col-gemm / flipped-forward(im2col-gemm) / im2col-gemm");  // S8: pointwise
}

TEST(ConvPlanTest, LeNet5ShapesRunTheSmallChannelKernels) {
  // features.0: 1 -> 6 5x5 pad 2 on 28x28. On AVX2, 6 output channels fill the 6-row direct
  // tile and its dense copies (18 KiB) stay in L1: dense kept.
  EXPECT_EQ(Describe(Make(64, 1, 28, 6, 5, 1, 2), kAvx512), "pixel-rows / im2col-gemm / dot");
  EXPECT_EQ(Describe(Make(64, 1, 28, 6, 5, 1, 2), kAvx2), "direct(dense) / im2col-gemm / dot");
  // features.3: 6 -> 16 5x5 on 14x14 (100 output pixels).
  EXPECT_EQ(Describe(Make(64, 6, 14, 16, 5, 1, 0), kAvx512),
            "direct(dense) / flipped-forward(pixel-rows) / channel-lanes");
  EXPECT_EQ(Describe(Make(64, 6, 14, 16, 5, 1, 0), kAvx2),
            "direct(dense) / flipped-forward(pixel-rows) / channel-lanes");
}

TEST(ConvPlanTest, SmallChannelKernelBounds) {
  // Channel lanes: < 128 output pixels, <= 64 output channels filling >= 3/4 of their vectors.
  const auto weights = [](const Conv2dShape& s, const ConvTarget& t) {
    return PlanConv2d(s, t).backward_weights.algorithm;
  };
  EXPECT_EQ(weights(Make(8, 24, 10, 24, 3, 1, 1), kAvx512), ConvAlgorithm::kChannelLanes);
  EXPECT_EQ(weights(Make(8, 24, 10, 24, 3, 1, 1), kAvx2), ConvAlgorithm::kChannelLanes);
  EXPECT_NE(weights(Make(8, 24, 10, 17, 3, 1, 1), kAvx512), ConvAlgorithm::kChannelLanes);
  EXPECT_NE(weights(Make(8, 24, 10, 17, 3, 1, 1), kAvx2), ConvAlgorithm::kChannelLanes);
  EXPECT_NE(weights(Make(8, 24, 10, 72, 3, 1, 1), kAvx2), ConvAlgorithm::kChannelLanes);
  EXPECT_NE(weights(Make(8, 24, 14, 24, 3, 1, 1), kAvx512), ConvAlgorithm::kChannelLanes);
  // Pixel rows: stride_w 1, 4-8 output channels, rows filling >= 3/4 of their vectors.
  const auto forward = [](const Conv2dShape& s, const ConvTarget& t) {
    return PlanConv2d(s, t).forward.algorithm;
  };
  EXPECT_EQ(forward(Make(8, 16, 14, 4, 3, 1, 1), kAvx512), ConvAlgorithm::kPixelRows);
  EXPECT_NE(forward(Make(8, 16, 14, 3, 3, 1, 1), kAvx512), ConvAlgorithm::kPixelRows);
  EXPECT_NE(forward(Make(8, 16, 14, 9, 3, 1, 1), kAvx512), ConvAlgorithm::kPixelRows);
  EXPECT_NE(forward(Make(8, 16, 20, 4, 3, 1, 1), kAvx512), ConvAlgorithm::kPixelRows);  // 20/32
  EXPECT_EQ(forward(Make(8, 16, 20, 4, 3, 1, 1), kAvx2), ConvAlgorithm::kPixelRows);  // 20/24
  EXPECT_NE(forward(Make(8, 16, 29, 4, 3, 2, 1), kAvx512), ConvAlgorithm::kPixelRows);
}

TEST(ConvPlanTest, NarrowerVectorsChangeTheDirectLayout) {
  // 16x16 outputs are exactly one AVX-512 vector per row (pair layout); on AVX2 a row is one
  // whole NR-wide block.
  const Conv2dShape s = Make(1, 5, 33, 6, 3, 2, 0);
  EXPECT_EQ(PlanDirectLayout(s, kAvx512), DirectLayout::kPair);
  EXPECT_EQ(PlanDirectLayout(s, kAvx2), DirectLayout::kRow);
  // Backward-data's flipped forward needs two register tiles of input channels (2 * MR: 16
  // on AVX-512, 12 on AVX2).
  const Conv2dShape c14 = Make(1, 14, 20, 40, 3, 1, 1);
  EXPECT_EQ(PlanConv2d(c14, kAvx512).backward_data.algorithm, ConvAlgorithm::kIm2colGemm);
  EXPECT_EQ(PlanConv2d(c14, kAvx2).backward_data.algorithm, ConvAlgorithm::kFlippedForward);
}

TEST(ConvPlanTest, TorchvisionShapesOnAvx512) {
  EXPECT_EQ(Describe(Make(16, 3, 224, 64, 7, 2, 3), kAvx512),
            "direct(scatter) / im2col-gemm / direct");  // resnet18 stem
  EXPECT_EQ(Describe(Make(16, 64, 56, 128, 1, 2, 0), kAvx512),
            "direct(flat) / im2col-gemm / direct");  // 1x1 stride-2 projection
  // 7x7 outputs: the weight gradient rereads dW per image in the direct GEMM.
  EXPECT_EQ(Describe(Make(16, 256, 14, 512, 1, 2, 0), kAvx512),
            "direct(flat) / im2col-gemm / im2col-gemm");
  EXPECT_EQ(Describe(Make(16, 512, 7, 512, 3, 1, 1), kAvx512),
            "winograd / flipped-forward(winograd) / winograd");
  // Stride 2: the Winograd<2> backward passes need enough tiles per image (WinogradStride2-
  // BackwardPays): 16 tiles of 7x7 outputs for 256 -> 512 channels are not.
  EXPECT_EQ(Describe(Make(16, 256, 14, 512, 3, 2, 1), kAvx512),
            "winograd / im2col-gemm / im2col-gemm");  // layer4.0.conv1
  EXPECT_EQ(Describe(Make(16, 128, 28, 256, 3, 2, 1), kAvx512),
            "winograd / winograd / winograd");  // layer3.0.conv1: 49 tiles
  EXPECT_EQ(Describe(Make(16, 144, 56, 144, 3, 2, 1, 144), kAvx512),
            "depthwise / depthwise / depthwise");  // mobilenet_v2 depthwise, stride 2
  EXPECT_EQ(Describe(Make(16, 960, 7, 960, 3, 1, 1, 960), kAvx512),
            "depthwise / depthwise / depthwise");
}

TEST(ConvPlanTest, DepthwiseLayoutUsesTheVirtualGridForNarrowRows) {
  // 7 outputs per row fill 7 of 16 lanes; the 9-wide padded grid fills 49 of 64.
  EXPECT_EQ(PlanDepthwiseLayout(Make(1, 960, 7, 960, 3, 1, 1, 960), kAvx512),
            DirectLayout::kScatter);
  EXPECT_EQ(PlanDepthwiseLayout(Make(1, 32, 112, 32, 3, 1, 1, 32), kAvx512),
            DirectLayout::kRow);
}

TEST(ConvPlanTest, WinogradNeedsThirtyTwoChannelsEachWay) {
  EXPECT_EQ(PlanConv2d(Make(1, 32, 10, 32, 3, 1, 1), kAvx512).forward.algorithm,
            ConvAlgorithm::kWinograd);
  EXPECT_NE(PlanConv2d(Make(1, 31, 10, 32, 3, 1, 1), kAvx512).forward.algorithm,
            ConvAlgorithm::kWinograd);
  EXPECT_NE(PlanConv2d(Make(1, 32, 10, 32, 3, 3, 1), kAvx512).forward.algorithm,
            ConvAlgorithm::kWinograd);  // stride 3
}

TEST(ConvPlanTest, Winograd4x4NeedsFewWastedPointsAndEnoughTiles) {
  const auto forward = [](const Conv2dShape& s) {
    return PlanConv2d(s, kAvx512).forward.algorithm;
  };
  // vgg-small's 3x3 convolutions with >= 32 channels, batch 64, and their flipped backward-data.
  EXPECT_EQ(forward(Make(64, 32, 28, 32, 3, 1, 1)), ConvAlgorithm::kWinograd4);
  EXPECT_EQ(forward(Make(64, 32, 14, 64, 3, 1, 1)), ConvAlgorithm::kWinograd4);
  EXPECT_EQ(forward(Make(64, 64, 14, 64, 3, 1, 1)), ConvAlgorithm::kWinograd4);
  EXPECT_EQ(PlanConv2d(Make(64, 32, 28, 32, 3, 1, 1), kAvx2).flipped.algorithm,
            ConvAlgorithm::kWinograd4);
  // resnet18 at batch 16: 56x56 and 28x28; on 14x14 its 256 channels' 9 MiB of transformed
  // weights need 5120 points saved (3328 at batch 16, 6656 at batch 32).
  EXPECT_EQ(forward(Make(16, 64, 56, 64, 3, 1, 1)), ConvAlgorithm::kWinograd4);
  EXPECT_EQ(forward(Make(16, 128, 28, 128, 3, 1, 1)), ConvAlgorithm::kWinograd4);
  EXPECT_EQ(forward(Make(16, 256, 14, 256, 3, 1, 1)), ConvAlgorithm::kWinograd);
  EXPECT_EQ(forward(Make(32, 256, 14, 256, 3, 1, 1)), ConvAlgorithm::kWinograd4);
  // Fewer than 96 tiles in the batch: vgg-small at batch 1 (49 and 16 tiles), 64 on 7x7.
  EXPECT_EQ(forward(Make(1, 32, 28, 32, 3, 1, 1)), ConvAlgorithm::kWinograd);
  EXPECT_EQ(forward(Make(2, 32, 28, 32, 3, 1, 1)), ConvAlgorithm::kWinograd4);
  EXPECT_EQ(forward(Make(1, 64, 14, 64, 3, 1, 1)), ConvAlgorithm::kWinograd);
  EXPECT_EQ(forward(Make(8, 64, 7, 64, 3, 1, 1)), ConvAlgorithm::kWinograd);
  // Too few tiles for the transformed weights: 512 channels on 7x7, 128 on 3x3.
  EXPECT_EQ(forward(Make(16, 512, 7, 512, 3, 1, 1)), ConvAlgorithm::kWinograd);
  EXPECT_EQ(forward(Make(64, 128, 3, 128, 3, 1, 1)), ConvAlgorithm::kWinograd);
  // 4x4 tiles keep more than 3/4 of the points: 5x5 (1.0), 10x10 (0.81).
  EXPECT_EQ(forward(Make(64, 64, 5, 64, 3, 1, 1)), ConvAlgorithm::kWinograd);
  EXPECT_EQ(forward(Make(64, 32, 10, 32, 3, 1, 1)), ConvAlgorithm::kWinograd);
  // Stride 2 and < 32 channels never plan it; forcing applies to the stride-1 forward and
  // weight gradient (backward-data runs it as the flipped forward).
  EXPECT_EQ(forward(Make(64, 64, 32, 64, 3, 2, 1)), ConvAlgorithm::kWinograd);
  EXPECT_NE(forward(Make(64, 31, 28, 32, 3, 1, 1)), ConvAlgorithm::kWinograd4);
  const Conv2dShape s = Make(1, 3, 5, 4, 3, 1, 2);
  EXPECT_TRUE(ConvAlgorithmApplies(s, ConvPass::kForward, ConvAlgorithm::kWinograd4));
  EXPECT_FALSE(ConvAlgorithmApplies(s, ConvPass::kBackwardData, ConvAlgorithm::kWinograd4));
  EXPECT_TRUE(ConvAlgorithmApplies(s, ConvPass::kBackwardWeights, ConvAlgorithm::kWinograd4));
  EXPECT_FALSE(ConvAlgorithmApplies(Make(1, 3, 5, 4, 3, 2, 1), ConvPass::kForward,
                                    ConvAlgorithm::kWinograd4));
  EXPECT_FALSE(ConvAlgorithmApplies(Make(1, 3, 5, 4, 3, 1, 3), ConvPass::kForward,
                                    ConvAlgorithm::kWinograd4));
  EXPECT_STREQ(ConvAlgorithmName(ConvAlgorithm::kWinograd4), "winograd4x4");
  // The weight gradient needs twice the tiles: resnet18's 256 channels on 14x14 keep F(2x2).
  const auto weights = [](const Conv2dShape& s) {
    return PlanConv2d(s, kAvx512).backward_weights.algorithm;
  };
  EXPECT_EQ(weights(Make(64, 32, 28, 32, 3, 1, 1)), ConvAlgorithm::kWinograd4);
  EXPECT_EQ(weights(Make(64, 64, 14, 64, 3, 1, 1)), ConvAlgorithm::kWinograd4);
  EXPECT_EQ(weights(Make(16, 128, 28, 128, 3, 1, 1)), ConvAlgorithm::kWinograd4);
  EXPECT_EQ(weights(Make(16, 256, 14, 256, 3, 1, 1)), ConvAlgorithm::kWinograd);
  EXPECT_EQ(weights(Make(32, 256, 14, 256, 3, 1, 1)), ConvAlgorithm::kWinograd4);
  EXPECT_EQ(weights(Make(64, 64, 5, 64, 3, 1, 1)), ConvAlgorithm::kWinograd);
}

TEST(ConvPlanTest, ApplicableAlgorithms) {
  const Conv2dShape s3 = Make(1, 4, 9, 4, 3, 1, 1);
  EXPECT_TRUE(ConvAlgorithmApplies(s3, ConvPass::kForward, ConvAlgorithm::kWinograd));
  EXPECT_FALSE(ConvAlgorithmApplies(s3, ConvPass::kBackwardData, ConvAlgorithm::kWinograd));
  EXPECT_TRUE(ConvAlgorithmApplies(s3, ConvPass::kBackwardData, ConvAlgorithm::kFlippedForward));
  EXPECT_FALSE(ConvAlgorithmApplies(s3, ConvPass::kForward, ConvAlgorithm::kDot));
  EXPECT_FALSE(ConvAlgorithmApplies(s3, ConvPass::kForward, ConvAlgorithm::kDepthwise));
  // im2col-gemm, direct, winograd, dot, channel-lanes, winograd4x4.
  EXPECT_EQ(ApplicableConvAlgorithms(s3, ConvPass::kBackwardWeights).size(), 6u);
  EXPECT_TRUE(ConvAlgorithmApplies(s3, ConvPass::kForward, ConvAlgorithm::kPixelRows));
  EXPECT_FALSE(ConvAlgorithmApplies(s3, ConvPass::kBackwardData, ConvAlgorithm::kPixelRows));
  EXPECT_FALSE(ConvAlgorithmApplies(s3, ConvPass::kForward, ConvAlgorithm::kChannelLanes));
  Conv2dShape cs2 = s3;  // column stride 2
  cs2.stride_w = 2;
  EXPECT_FALSE(ConvAlgorithmApplies(cs2, ConvPass::kForward, ConvAlgorithm::kPixelRows));
  EXPECT_TRUE(ConvAlgorithmApplies(cs2, ConvPass::kBackwardWeights, ConvAlgorithm::kChannelLanes));
  const Conv2dShape s2 = Make(1, 4, 9, 4, 3, 2, 1, 4);  // depthwise, stride 2
  EXPECT_TRUE(ConvAlgorithmApplies(s2, ConvPass::kBackwardData, ConvAlgorithm::kWinograd));
  EXPECT_FALSE(ConvAlgorithmApplies(s2, ConvPass::kBackwardData, ConvAlgorithm::kFlippedForward));
  EXPECT_TRUE(ConvAlgorithmApplies(s2, ConvPass::kBackwardData, ConvAlgorithm::kDepthwise));
  const Conv2dShape dilated = Make(1, 4, 9, 4, 3, 1, 1);
  Conv2dShape d2 = dilated;
  d2.dilation_h = 2;
  EXPECT_FALSE(ConvAlgorithmApplies(d2, ConvPass::kForward, ConvAlgorithm::kWinograd));
}

TEST(ConvPlanTest, ForcingChangesOnlyThatPass) {
  const Conv2dShape s = Make(2, 64, 32, 64, 3, 1, 1);
  const ConvPlan planned = PlanConv2d(s, kAvx512);
  const ConvPlan forced = ForceConvAlgorithm(s, kAvx512, ConvPass::kForward, ConvAlgorithm::kDirect);
  EXPECT_EQ(forced.forward.algorithm, ConvAlgorithm::kDirect);
  EXPECT_EQ(std::string(forced.forward.reason), "forced");
  EXPECT_EQ(forced.backward_data.algorithm, planned.backward_data.algorithm);
  EXPECT_EQ(forced.backward_weights.algorithm, planned.backward_weights.algorithm);
  EXPECT_EQ(ConvPassPlanString(forced, ConvPass::kForward), "direct(row)");
  EXPECT_NE(std::string(planned.forward.reason), "");
}

TEST(ConvPlanTest, FlippedShapeSwapsChannelsAndPadding) {
  const Conv2dShape s{2, 3, 9, 11, 5, 5, 5, 1, 1, 1, 1, 1, 1, 1};  // 9x11, 5x5, pad 1
  const Conv2dShape t = FlippedConvShape(s);
  EXPECT_EQ(t.in_channels, 5u);
  EXPECT_EQ(t.out_channels, 3u);
  EXPECT_EQ(t.in_h, s.out_h());
  EXPECT_EQ(t.pad_h, 3u);  // reach 4 - pad 1
  EXPECT_EQ(t.out_h(), s.in_h);
  EXPECT_EQ(t.out_w(), s.in_w);
}

}  // namespace
}  // namespace simdnet
