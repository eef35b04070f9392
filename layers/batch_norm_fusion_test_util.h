// Helpers shared by the tests of the BatchNorm fusions in Sequential (batch_norm_relu_test,
// batch_norm_pool_test).
#ifndef SIMDNET_LAYERS_BATCH_NORM_FUSION_TEST_UTIL_H_
#define SIMDNET_LAYERS_BATCH_NORM_FUSION_TEST_UTIL_H_

#include <cstdint>
#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "layers/activation.h"
#include "layers/sequential.h"
#include "tensor/rng.h"
#include "tensor/tensor.h"

namespace simdnet {

// Draws the affine parameters of `net` from `seed`: U(-0.5, 1.5), except that for ReLU6 the
// first BatchNorm's weight and bias (parameters 0 and 1) are U(1.5, 4), so that its outputs
// (about weight * U(-1.7, 1.7) + bias) cross both 0 and 6.
inline void DrawBatchNormAffine(Sequential& net, ActivationKind kind, uint64_t seed) {
  Rng rng(seed);
  std::vector<NamedParameter> params = net.Params();
  for (size_t i = 0; i < params.size(); ++i) {
    const bool wide = kind == ActivationKind::kRelu6 && i < 2;
    rng.FillUniform(params[i].param->value.data(), params[i].param->value.size(),
                    wide ? 1.5f : -0.5f, wide ? 4.0f : 1.5f);
  }
}

inline void ExpectBitIdentical(const Tensor& a, const Tensor& b, const char* what) {
  ASSERT_EQ(a.shape(), b.shape()) << what;
  EXPECT_EQ(std::memcmp(a.data(), b.data(), sizeof(float) * static_cast<size_t>(a.size())), 0)
      << what;
}

}  // namespace simdnet

#endif  // SIMDNET_LAYERS_BATCH_NORM_FUSION_TEST_UTIL_H_
