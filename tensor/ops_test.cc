// Tests of the tensor-level ops: results on small known tensors, axis handling (negative,
// keep_dims), and every rejection with a message naming the op, axis and shapes.
#include "tensor/ops.h"

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tensor/shape.h"
#include "tensor/status_macros.h"
#include "tensor/tensor.h"
#include "tensor/test_util.h"
#include "tensor/thread_pool.h"

namespace simdnet {
namespace ops {
namespace {

Tensor Make(const Shape& shape, const std::vector<float>& values) {
  absl::StatusOr<Tensor> t = Tensor::FromVector(shape, values);
  SIMDNET_CHECK(t.ok());
  return *t;
}

// A (2, 3, 4) tensor holding 0, 1, ..., 23 (x[n, c, w] = 12 n + 4 c + w).
Tensor Iota234() {
  std::vector<float> v(24);
  for (int i = 0; i < 24; ++i) v[i] = static_cast<float>(i);
  return Make(Shape({2, 3, 4}), v);
}

std::vector<float> Values(const Tensor& t) {
  return std::vector<float>(t.data(), t.data() + t.size());
}

// Expects an InvalidArgument whose message contains every one of `parts`.
void ExpectInvalid(const absl::Status& status, const std::vector<std::string>& parts) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  for (const std::string& part : parts) {
    EXPECT_TRUE(absl::StrContains(status.message(), part))
        << "message \"" << status.message() << "\" lacks \"" << part << "\"";
  }
}

TEST(OpsTest, AddSubMulComputeElementwise) {
  const Tensor a = Make(Shape({2, 2}), {1, 2, 3, 4});
  const Tensor b = Make(Shape({2, 2}), {10, 20, 30, 40});
  absl::StatusOr<Tensor> sum = Add(a, b), diff = Sub(a, b), prod = Mul(a, b);
  ASSERT_TRUE(sum.ok() && diff.ok() && prod.ok());
  EXPECT_EQ(sum->shape(), Shape({2, 2}));
  EXPECT_EQ(Values(*sum), (std::vector<float>{11, 22, 33, 44}));
  EXPECT_EQ(Values(*diff), (std::vector<float>{-9, -18, -27, -36}));
  EXPECT_EQ(Values(*prod), (std::vector<float>{10, 40, 90, 160}));
}

TEST(OpsTest, BinaryRejectsShapeMismatchNamingBothShapes) {
  const Tensor a(Shape({2, 3})), b(Shape({3, 2}));
  ExpectInvalid(Add(a, b).status(), {"Add", "(2, 3)", "(3, 2)"});
  ExpectInvalid(Sub(a, b).status(), {"Sub", "(2, 3)", "(3, 2)"});
  ExpectInvalid(Mul(a, b).status(), {"Mul", "(2, 3)", "(3, 2)"});
  // Same element count, different rank: still a mismatch.
  ExpectInvalid(Add(a, Tensor(Shape({6}))).status(), {"(2, 3)", "(6)"});
}

TEST(OpsTest, IntoVariantsWriteOutputAndAllowExactAliasing) {
  Tensor a = Make(Shape({3}), {1, 2, 3});
  const Tensor b = Make(Shape({3}), {4, 5, 6});
  Tensor y(Shape({3}));
  ASSERT_TRUE(AddInto(a, b, &y).ok());
  EXPECT_EQ(Values(y), (std::vector<float>{5, 7, 9}));
  ASSERT_TRUE(SubInto(a, b, &y).ok());
  EXPECT_EQ(Values(y), (std::vector<float>{-3, -3, -3}));
  ASSERT_TRUE(MulInto(a, b, &a).ok());  // in place on a
  EXPECT_EQ(Values(a), (std::vector<float>{4, 10, 18}));
}

TEST(OpsTest, IntoVariantsRejectWrongOutputShape) {
  const Tensor a(Shape({2, 3})), b(Shape({2, 3}));
  Tensor y(Shape({3, 2}));
  ExpectInvalid(AddInto(a, b, &y), {"AddInto", "(2, 3)", "output (3, 2)"});
  ExpectInvalid(SubInto(a, b, &y), {"SubInto", "output (3, 2)"});
  ExpectInvalid(MulInto(a, b, &y), {"MulInto", "output (3, 2)"});
}

TEST(OpsTest, IntoVariantsRejectPartialOverlap) {
  Tensor base(Shape({4, 2}));
  const Tensor first = base.Slice(0, 3);  // rows 0..2
  Tensor shifted = base.Slice(1, 4);      // rows 1..3: overlaps `first`, not identical
  ExpectInvalid(AddInto(first, first, &shifted), {"AddInto", "partially overlaps", "a"});
  ExpectInvalid(Axpy(1.0f, first, &shifted), {"Axpy", "partially overlaps"});
  Tensor disjoint = base.Slice(3, 4);
  const Tensor row0 = base.Slice(0, 1);
  EXPECT_TRUE(AddInto(row0, row0, &disjoint).ok());
}

TEST(OpsTest, AxpyAccumulatesAndRejectsShapeMismatch) {
  const Tensor x = Make(Shape({2}), {1, 2});
  Tensor y = Make(Shape({2}), {10, 20});
  ASSERT_TRUE(Axpy(0.5f, x, &y).ok());
  EXPECT_EQ(Values(y), (std::vector<float>{10.5f, 21}));
  Tensor wrong(Shape({1, 2}));
  ExpectInvalid(Axpy(1.0f, x, &wrong), {"Axpy", "(2)", "(1, 2)"});
}

TEST(OpsTest, ScalarOpsScaleAndFill) {
  const Tensor x = Make(Shape({3}), {1, -2, 4});
  EXPECT_EQ(Values(AddScalar(x, 1.5f)), (std::vector<float>{2.5f, -0.5f, 5.5f}));
  EXPECT_EQ(Values(MulScalar(x, -2.0f)), (std::vector<float>{-2, 4, -8}));
  Tensor y = x.Clone();
  Scale(0.25f, &y);
  EXPECT_EQ(Values(y), (std::vector<float>{0.25f, -0.5f, 1}));
  Fill(&y, 7.0f);
  EXPECT_EQ(Values(y), (std::vector<float>{7, 7, 7}));
  EXPECT_EQ(Values(x), (std::vector<float>{1, -2, 4}));  // inputs untouched
}

TEST(OpsTest, PoolGivesSerialResultBitForBit) {
  Tensor x(Shape({5, 20000}));
  for (int64_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.001f * static_cast<float>(i));
  ThreadPool pool(2);
  absl::StatusOr<Tensor> serial = Mul(x, x), parallel = Mul(x, x, &pool);
  ASSERT_TRUE(serial.ok() && parallel.ok());
  EXPECT_EQ(Values(*serial), Values(*parallel));
  EXPECT_EQ(Values(AddScalar(x, 3.0f)), Values(AddScalar(x, 3.0f, &pool)));
}

TEST(OpsTest, WholeTensorReductionsAndNorms) {
  const Tensor x = Make(Shape({2, 2}), {3, -4, 0, 0});
  EXPECT_EQ(SumAll(x), -1.0f);
  EXPECT_EQ(L1Norm(x), 7.0f);
  EXPECT_EQ(SquaredL2Norm(x), 25.0f);
  EXPECT_EQ(L2Norm(x), 5.0f);
  const Tensor empty(Shape({0, 3}));
  EXPECT_EQ(SumAll(empty), 0.0f);
  EXPECT_EQ(L2Norm(empty), 0.0f);
}

TEST(OpsTest, SumMeanMaxAlongEachAxis) {
  const Tensor x = Iota234();
  // Over axis 1 (c): sum_c (12 n + 4 c + w) = 36 n + 12 + 3 w.
  absl::StatusOr<Tensor> s1 = Sum(x, 1);
  ASSERT_TRUE(s1.ok()) << s1.status();
  EXPECT_EQ(s1->shape(), Shape({2, 4}));
  EXPECT_EQ(Values(*s1), (std::vector<float>{12, 15, 18, 21, 48, 51, 54, 57}));
  // Negative axis -1 is w; keep_dims keeps it with size 1.
  absl::StatusOr<Tensor> m = Max(x, -1, /*keep_dims=*/true);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->shape(), Shape({2, 3, 1}));
  EXPECT_EQ(Values(*m), (std::vector<float>{3, 7, 11, 15, 19, 23}));
  absl::StatusOr<Tensor> mean0 = Mean(x, 0);
  ASSERT_TRUE(mean0.ok());
  EXPECT_EQ(mean0->shape(), Shape({3, 4}));
  for (int64_t i = 0; i < 12; ++i) EXPECT_EQ((*mean0)[i], static_cast<float>(i) + 6.0f) << i;
  // Reducing a rank-1 tensor gives a rank-0 scalar.
  absl::StatusOr<Tensor> total = Sum(Make(Shape({3}), {1, 2, 3}), 0);
  ASSERT_TRUE(total.ok());
  EXPECT_EQ(total->rank(), 0);
  EXPECT_EQ((*total)[0], 6.0f);
}

TEST(OpsTest, AxisOutOfRangeIsRejectedNamingAxisAndShape) {
  const Tensor x(Shape({2, 3}));
  ExpectInvalid(Sum(x, 2).status(), {"Sum", "axis 2", "(2, 3)", "rank 2"});
  ExpectInvalid(Sum(x, -3).status(), {"Sum", "axis -3", "(2, 3)"});
  ExpectInvalid(Mean(x, 5).status(), {"Mean", "axis 5", "(2, 3)"});
  ExpectInvalid(Max(x, 2).status(), {"Max", "axis 2"});
  ExpectInvalid(ArgMax(x, -4).status(), {"ArgMax", "axis -4"});
  ExpectInvalid(Softmax(x, 2).status(), {"Softmax", "axis 2", "(2, 3)"});
  ExpectInvalid(LogSoftmax(x, 3).status(), {"LogSoftmax", "axis 3"});
  // A rank-0 tensor has no axis at all.
  ExpectInvalid(Sum(Tensor(Shape()), 0).status(), {"Sum", "axis 0", "()", "rank 0"});
}

TEST(OpsTest, EmptyAxisRejectedWhereUndefinedAndSumsToZero) {
  const Tensor x(Shape({2, 0, 3}));
  ExpectInvalid(Mean(x, 1).status(), {"Mean", "axis 1", "(2, 0, 3)", "empty"});
  ExpectInvalid(Max(x, 1).status(), {"Max", "empty"});
  ExpectInvalid(ArgMax(x, 1).status(), {"ArgMax", "empty"});
  ExpectInvalid(Softmax(x, 1).status(), {"Softmax", "empty"});
  ExpectInvalid(LogSoftmax(x, -2).status(), {"LogSoftmax", "axis -2", "empty"});
  absl::StatusOr<Tensor> s = Sum(x, 1);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->shape(), Shape({2, 3}));
  EXPECT_EQ(Values(*s), std::vector<float>(6, 0.0f));
  // Reducing a non-empty axis of an empty tensor is fine and empty.
  absl::StatusOr<Tensor> m = Max(x, 2);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->shape(), Shape({2, 0}));
}

TEST(OpsTest, ArgMaxReturnsFirstIndexOfMaxWithShape) {
  const Tensor x = Make(Shape({2, 3}), {1, 5, 5, 7, 2, 7});
  absl::StatusOr<IndexTensor> rows = ArgMax(x, 1);
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->shape, Shape({2}));
  EXPECT_EQ(rows->indices, (std::vector<int64_t>{1, 0}));
  absl::StatusOr<IndexTensor> cols = ArgMax(x, 0, /*keep_dims=*/true);
  ASSERT_TRUE(cols.ok());
  EXPECT_EQ(cols->shape, Shape({1, 3}));
  EXPECT_EQ(cols->indices, (std::vector<int64_t>{1, 0, 1}));
}

TEST(OpsTest, SoftmaxAndLogSoftmaxAlongMiddleAxisMatchReference) {
  Tensor x = Iota234();
  for (int64_t i = 0; i < x.size(); ++i) x[i] = 0.37f * x[i] - 4.0f;
  absl::StatusOr<Tensor> sm = Softmax(x, 1), lsm = LogSoftmax(x, -2);
  ASSERT_TRUE(sm.ok() && lsm.ok());
  EXPECT_EQ(sm->shape(), x.shape());
  std::vector<double> ref(24), ref_log(24);
  for (int n = 0; n < 2; ++n) {
    for (int w = 0; w < 4; ++w) {
      double m = -1e300, s = 0;
      for (int c = 0; c < 3; ++c) m = std::max(m, double{x.at({n, c, w})});
      for (int c = 0; c < 3; ++c) s += std::exp(x.at({n, c, w}) - m);
      for (int c = 0; c < 3; ++c) {
        ref[12 * n + 4 * c + w] = std::exp(x.at({n, c, w}) - m) / s;
        ref_log[12 * n + 4 * c + w] = (x.at({n, c, w}) - m) - std::log(s);
      }
    }
  }
  EXPECT_TRUE(test::AllNear(sm->data(), ref.data(), 24, 1e-7, 1e-6));
  EXPECT_TRUE(test::AllNear(lsm->data(), ref_log.data(), 24, 1e-6, 1e-6));
}

TEST(OpsTest, SoftmaxOfHugeLogitsIsFinite) {
  const Tensor x = Make(Shape({1, 3}), {1000, -1000, 1000});
  absl::StatusOr<Tensor> sm = Softmax(x, -1), lsm = LogSoftmax(x, -1);
  ASSERT_TRUE(sm.ok() && lsm.ok());
  EXPECT_EQ(Values(*sm), (std::vector<float>{0.5f, 0.0f, 0.5f}));
  EXPECT_NEAR((*lsm)[0], -std::log(2.0), 1e-6);
  EXPECT_NEAR((*lsm)[1], -2000 - std::log(2.0), 1e-3);
}

// ---- Broadcasting ------------------------------------------------------------------------------

// Plain reference: the multi-index of each output element, mapped into a and b by NumPy's rules.
int64_t BroadcastIndex(const Shape& in, const Shape& out, int64_t flat_out) {
  int64_t in_index = 0, in_stride = 1;
  for (int i = out.rank() - 1, j = in.rank() - 1; i >= 0; --i, --j) {
    const int64_t coord = flat_out % out.dim(i);
    flat_out /= out.dim(i);
    if (j >= 0) {
      if (in.dim(j) != 1) in_index += coord * in_stride;
      in_stride *= in.dim(j);
    }
  }
  return in_index;
}

Tensor RandomTensor(const Shape& shape, std::mt19937& gen) {
  std::uniform_real_distribution<float> unif(-2.0f, 2.0f);
  Tensor t(shape);
  for (int64_t i = 0; i < t.size(); ++i) t[i] = unif(gen);
  return t;
}

TEST(BroadcastTest, HandComputedCases) {
  // (2, 1) + (3): [[1], [2]] + [10, 20, 30] = [[11, 21, 31], [12, 22, 32]].
  const Tensor col = Make(Shape({2, 1}), {1, 2});
  const Tensor row = Make(Shape({3}), {10, 20, 30});
  Tensor y;
  ASSERT_TRUE(BroadcastAdd(col, row, &y).ok());
  EXPECT_EQ(y.shape(), Shape({2, 3}));
  EXPECT_EQ(Values(y), (std::vector<float>{11, 21, 31, 12, 22, 32}));
  ASSERT_TRUE(BroadcastMul(col, row, &y).ok());
  EXPECT_EQ(Values(y), (std::vector<float>{10, 20, 30, 20, 40, 60}));
  // A scalar (rank 0) times a (2, 2).
  Tensor scalar(Shape{});
  scalar[0] = -3;
  ASSERT_TRUE(BroadcastMul(Make(Shape({2, 2}), {1, 2, 3, 4}), scalar, &y).ok());
  EXPECT_EQ(y.shape(), Shape({2, 2}));
  EXPECT_EQ(Values(y), (std::vector<float>{-3, -6, -9, -12}));
  // (1, 3, 1) + (2, 1, 2) = (2, 3, 2): y[i, j, k] = a[j] + b[i, k].
  const Tensor a = Make(Shape({1, 3, 1}), {1, 2, 3});
  const Tensor b = Make(Shape({2, 1, 2}), {10, 20, 30, 40});
  ASSERT_TRUE(BroadcastAdd(a, b, &y).ok());
  EXPECT_EQ(y.shape(), Shape({2, 3, 2}));
  EXPECT_EQ(Values(y), (std::vector<float>{11, 21, 12, 22, 13, 23, 31, 41, 32, 42, 33, 43}));
  // Backward of that add: da sums dy over i and k, db over j. With dy = 1: da = 4 each, db = 3.
  Tensor dy(Shape({2, 3, 2})), da, db;
  dy.SetAll(1.0f);
  ASSERT_TRUE(BroadcastAddBackward(dy, a.shape(), b.shape(), &da, &db).ok());
  EXPECT_EQ(da.shape(), a.shape());
  EXPECT_EQ(Values(da), (std::vector<float>{4, 4, 4}));
  EXPECT_EQ(db.shape(), b.shape());
  EXPECT_EQ(Values(db), (std::vector<float>{3, 3, 3, 3}));
  // Backward of col * row with dy = 1: dcol[i] = sum(row) = 60, drow[j] = sum(col) = 3.
  Tensor ones(Shape({2, 3}));
  ones.SetAll(1.0f);
  ASSERT_TRUE(BroadcastMulBackward(ones, col, row, &da, &db).ok());
  EXPECT_EQ(Values(da), (std::vector<float>{60, 60}));
  EXPECT_EQ(Values(db), (std::vector<float>{3, 3, 3}));
}

TEST(BroadcastTest, MatchesReferenceOnOddShapesOfRank1To4) {
  std::mt19937 gen(42);
  std::uniform_int_distribution<int> pick_dim(0, 3), coin(0, 2), pick_rank(1, 4);
  const int64_t kDims[] = {1, 2, 3, 5};
  int cases = 0;
  for (int trial = 0; trial < 300; ++trial) {
    const int rank = pick_rank(gen);
    std::vector<int64_t> out_dims(rank);
    for (int64_t& d : out_dims) d = kDims[pick_dim(gen)];
    // Each operand: drop some leading dims, and set some of the rest to 1.
    auto operand = [&]() {
      const int drop = std::uniform_int_distribution<int>(0, rank - 1)(gen);
      std::vector<int64_t> dims(out_dims.begin() + drop, out_dims.end());
      for (int64_t& d : dims) {
        if (coin(gen) == 0) d = 1;
      }
      return Shape(absl::MakeConstSpan(dims));
    };
    const Shape sa = operand(), sb = operand();
    absl::StatusOr<Shape> out = BroadcastShape(sa, sb);
    ASSERT_TRUE(out.ok()) << out.status();
    const Tensor a = RandomTensor(sa, gen), b = RandomTensor(sb, gen);
    Tensor sum, prod;
    ASSERT_TRUE(BroadcastAdd(a, b, &sum).ok());
    ASSERT_TRUE(BroadcastMul(a, b, &prod).ok());
    ASSERT_EQ(sum.shape(), *out);
    ASSERT_EQ(prod.shape(), *out);
    std::vector<double> ref_sum(out->size()), ref_prod(out->size());
    for (int64_t i = 0; i < out->size(); ++i) {
      const double va = a[BroadcastIndex(sa, *out, i)], vb = b[BroadcastIndex(sb, *out, i)];
      ref_sum[i] = va + vb;
      ref_prod[i] = va * vb;
    }
    SCOPED_TRACE(sa.ToString() + " op " + sb.ToString());
    EXPECT_TRUE(test::AllNear(sum.data(), ref_sum.data(), ref_sum.size(), 0, 1e-7));
    EXPECT_TRUE(test::AllNear(prod.data(), ref_prod.data(), ref_prod.size(), 0, 1e-7));
    // Gradients: the reference scatters dy * (other operand) back through the same index maps.
    const Tensor dy = RandomTensor(*out, gen);
    std::vector<double> da_add(sa.size()), db_add(sb.size()), da_mul(sa.size()), db_mul(sb.size());
    for (int64_t i = 0; i < out->size(); ++i) {
      const int64_t ia = BroadcastIndex(sa, *out, i), ib = BroadcastIndex(sb, *out, i);
      da_add[ia] += dy[i];
      db_add[ib] += dy[i];
      da_mul[ia] += double{dy[i]} * b[ib];
      db_mul[ib] += double{dy[i]} * a[ia];
    }
    Tensor da, db;
    ASSERT_TRUE(BroadcastAddBackward(dy, sa, sb, &da, &db).ok());
    ASSERT_EQ(da.shape(), sa);
    ASSERT_EQ(db.shape(), sb);
    EXPECT_TRUE(test::AllNear(da.data(), da_add.data(), da_add.size(), 1e-5, 1e-6));
    EXPECT_TRUE(test::AllNear(db.data(), db_add.data(), db_add.size(), 1e-5, 1e-6));
    ASSERT_TRUE(BroadcastMulBackward(dy, a, b, &da, &db).ok());
    // dy * b is rounded to float before the double sum.
    EXPECT_TRUE(test::AllNear(da.data(), da_mul.data(), da_mul.size(), 1e-5, 1e-5));
    EXPECT_TRUE(test::AllNear(db.data(), db_mul.data(), db_mul.size(), 1e-5, 1e-5));
    ++cases;
  }
  EXPECT_EQ(cases, 300);
}

TEST(BroadcastTest, OutputMayAliasAnInput) {
  // In place on the full-size operand.
  Tensor a = Make(Shape({2, 3}), {1, 2, 3, 4, 5, 6});
  const Tensor row = Make(Shape({3}), {10, 20, 30});
  Tensor y = a;  // Shares a's storage.
  ASSERT_TRUE(BroadcastAdd(a, row, &y).ok());
  EXPECT_EQ(Values(y), (std::vector<float>{11, 22, 33, 14, 25, 36}));
  // Output aliasing the broadcast operand: the result gets fresh storage, the input is intact.
  Tensor r = row;
  ASSERT_TRUE(BroadcastMul(Make(Shape({2, 3}), {1, 1, 1, 2, 2, 2}), row, &r).ok());
  EXPECT_EQ(Values(r), (std::vector<float>{10, 20, 30, 20, 40, 60}));
  EXPECT_EQ(Values(row), (std::vector<float>{10, 20, 30}));
  // An output of a different shape is reallocated; one of the right shape keeps its storage.
  Tensor out(Shape({2, 3}));
  const float* storage = out.data();
  ASSERT_TRUE(BroadcastAdd(Make(Shape({2, 3}), {0, 0, 0, 0, 0, 0}), row, &out).ok());
  EXPECT_EQ(out.data(), storage);
  // Empty broadcast: (0, 3) + (3) is (0, 3).
  ASSERT_TRUE(BroadcastAdd(Tensor(Shape({0, 3})), row, &out).ok());
  EXPECT_EQ(out.shape(), Shape({0, 3}));
}

TEST(BroadcastTest, RejectsIncompatibleShapesNamingBoth) {
  Tensor y;
  ExpectInvalid(BroadcastAdd(Tensor(Shape({2, 3})), Tensor(Shape({2})), &y),
                {"BroadcastAdd", "(2, 3)", "(2)", "dim 1", "3 vs 2"});
  ExpectInvalid(BroadcastMul(Tensor(Shape({4, 2, 3})), Tensor(Shape({5, 3})), &y),
                {"BroadcastMul", "(4, 2, 3)", "(5, 3)", "2 vs 5"});
  // (4, 1, 3) with (5, 3) is fine: (4, 5, 3).
  EXPECT_TRUE(BroadcastMul(Tensor(Shape({4, 1, 3})), Tensor(Shape({5, 3})), &y).ok());
  EXPECT_EQ(y.shape(), Shape({4, 5, 3}));
  ExpectInvalid(BroadcastShape(Shape({3}), Shape({4}), "MyOp").status(), {"MyOp", "(3)", "(4)"});
  Tensor out;
  // (3) does not broadcast to (2, 4); (1, 2, 3) does not reduce to rank 2.
  ExpectInvalid(ReduceToShape(Tensor(Shape({2, 4})), Shape({3}), &out),
                {"ReduceToShape", "(3)", "(2, 4)"});
  ExpectInvalid(ReduceToShape(Tensor(Shape({2, 3})), Shape({1, 2, 3}), &out),
                {"(1, 2, 3)", "(2, 3)"});
  Tensor da, db;
  ExpectInvalid(BroadcastAddBackward(Tensor(Shape({2, 2})), Shape({2, 3}), Shape({3}), &da, &db),
                {"BroadcastAddBackward", "(2, 2)", "(2, 3)"});
  ExpectInvalid(
      BroadcastMulBackward(Tensor(Shape({3})), Tensor(Shape({2})), Tensor(Shape({3})), &da, &db),
      {"BroadcastMulBackward", "(2)", "(3)"});
}

// ---- GEMM --------------------------------------------------------------------------------------

TEST(GemmTest, HandComputedWithRowBias) {
  // A (2, 3) = [[1, 2, 3], [4, 5, 6]], B = I(3) columns 0 and 2 as (3, 2); C = row (10, 20).
  const Tensor a = Make(Shape({2, 3}), {1, 2, 3, 4, 5, 6});
  const Tensor b = Make(Shape({3, 2}), {1, 0, 0, 0, 0, 1});
  const Tensor c = Make(Shape({2}), {10, 20});
  Tensor y;
  ASSERT_TRUE(Gemm(2.0f, a, false, b, false, 0.5f, &c, &y).ok());
  // 2 * [[1, 3], [4, 6]] + 0.5 * [10, 20] = [[7, 16], [13, 22]].
  EXPECT_EQ(y.shape(), Shape({2, 2}));
  EXPECT_EQ(Values(y), (std::vector<float>{7, 16, 13, 22}));
  // Same with A given transposed (3, 2) and a column C (2, 1) = (1, -1).
  const Tensor at = Make(Shape({3, 2}), {1, 4, 2, 5, 3, 6});
  const Tensor col = Make(Shape({2, 1}), {1, -1});
  ASSERT_TRUE(Gemm(1.0f, at, true, b, false, 1.0f, &col, &y).ok());
  EXPECT_EQ(Values(y), (std::vector<float>{2, 4, 3, 5}));
}

TEST(GemmTest, MatchesDoubleReferenceForEveryTransposeAndBroadcast) {
  std::mt19937 gen(5);
  ThreadPool pool(2);
  const float alpha = 0.75f, beta = -1.25f;
  enum CForm { kNone, kRank0, kOne, kRowN, kRow1N, kColM1, kFull };
  int cases = 0;
  for (int64_t m : {1, 3, 17}) {
    for (int64_t n : {1, 3, 17}) {
      for (int64_t k : {1, 3, 17}) {
        for (bool ta : {false, true}) {
          for (bool tb : {false, true}) {
            for (CForm form : {kNone, kRank0, kOne, kRowN, kRow1N, kColM1, kFull}) {
              const Tensor a = RandomTensor(ta ? Shape({k, m}) : Shape({m, k}), gen);
              const Tensor b = RandomTensor(tb ? Shape({n, k}) : Shape({k, n}), gen);
              Shape cs;
              switch (form) {
                case kRank0:
                  cs = Shape{};
                  break;
                case kOne:
                  cs = Shape({1});
                  break;
                case kRowN:
                  cs = Shape({n});
                  break;
                case kRow1N:
                  cs = Shape({1, n});
                  break;
                case kColM1:
                  cs = Shape({m, 1});
                  break;
                default:
                  cs = Shape({m, n});
                  break;
              }
              const Tensor c = RandomTensor(cs, gen);
              std::vector<double> ref(static_cast<size_t>(m * n));
              for (int64_t i = 0; i < m; ++i) {
                for (int64_t j = 0; j < n; ++j) {
                  double dot = 0;
                  for (int64_t p = 0; p < k; ++p) {
                    const double va = ta ? a[p * m + i] : a[i * k + p];
                    const double vb = tb ? b[j * k + p] : b[p * n + j];
                    dot += va * vb;
                  }
                  double cv = 0;
                  if (form != kNone) cv = c[BroadcastIndex(cs, Shape({m, n}), i * n + j)];
                  ref[i * n + j] = alpha * dot + beta * cv;
                }
              }
              Tensor y(Shape({2}));  // Wrong shape: reallocated.
              ASSERT_TRUE(
                  Gemm(alpha, a, ta, b, tb, beta, form == kNone ? nullptr : &c, &y, &pool).ok());
              ASSERT_EQ(y.shape(), Shape({m, n}));
              EXPECT_TRUE(test::AllNear(y.data(), ref.data(), ref.size(), 1e-5, 1e-5))
                  << "m=" << m << " n=" << n << " k=" << k << " trans_a=" << ta << " trans_b=" << tb
                  << " C " << cs.ToString() << " form " << form;
              ++cases;
            }
          }
        }
      }
    }
  }
  EXPECT_EQ(cases, 27 * 4 * 7);
}

TEST(GemmTest, BetaZeroIgnoresCAndYMayBeC) {
  const Tensor a = Make(Shape({1, 2}), {1, 2});
  const Tensor b = Make(Shape({2, 1}), {3, 4});
  Tensor c = Make(Shape({1, 1}), {NAN});
  Tensor y;
  ASSERT_TRUE(Gemm(1.0f, a, false, b, false, 0.0f, &c, &y).ok());
  EXPECT_EQ(Values(y), (std::vector<float>{11}));
  // In place on a full C: Y = A B + 2 C.
  c[0] = 1;
  Tensor& y_is_c = c;
  ASSERT_TRUE(Gemm(1.0f, a, false, b, false, 2.0f, &c, &y_is_c).ok());
  EXPECT_EQ(Values(c), (std::vector<float>{13}));
  // Y sharing storage with A: A is read intact, Y gets fresh storage.
  Tensor sq = Make(Shape({2, 2}), {1, 2, 3, 4});
  Tensor out = sq;
  ASSERT_TRUE(Gemm(1.0f, sq, false, sq, false, 0.0f, nullptr, &out).ok());
  EXPECT_EQ(Values(out), (std::vector<float>{7, 10, 15, 22}));
  EXPECT_EQ(Values(sq), (std::vector<float>{1, 2, 3, 4}));
  // K = 0: Y = beta * C.
  const Tensor row = Make(Shape({2}), {1, 2});
  ASSERT_TRUE(
      Gemm(1.0f, Tensor(Shape({3, 0})), false, Tensor(Shape({0, 2})), false, 3.0f, &row, &out)
          .ok());
  EXPECT_EQ(out.shape(), Shape({3, 2}));
  EXPECT_EQ(Values(out), (std::vector<float>{3, 6, 3, 6, 3, 6}));
}

TEST(GemmTest, RejectsBadShapesNamingThem) {
  Tensor y;
  const Tensor a(Shape({2, 3})), b(Shape({4, 5}));
  ExpectInvalid(Gemm(1, a, false, b, false, 0, nullptr, &y),
                {"Gemm", "inner dims", "(2, 3)", "(4, 5)"});
  ExpectInvalid(Gemm(1, a, true, b, false, 0, nullptr, &y), {"(3, 2)", "trans_a=1"});
  ExpectInvalid(Gemm(1, Tensor(Shape({6})), false, b, false, 0, nullptr, &y),
                {"rank 2", "(6)", "(4, 5)"});
  const Tensor b2(Shape({3, 5}));
  for (const Shape& cs : {Shape({2}), Shape({5, 1}), Shape({2, 5, 1}), Shape({3, 5})}) {
    const Tensor c(cs);
    ExpectInvalid(Gemm(1, a, false, b2, false, 1, &c, &y), {"C of shape", cs.ToString(), "(2, 5)"});
  }
}

}  // namespace
}  // namespace ops
}  // namespace simdnet
