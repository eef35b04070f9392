// Finite-difference gradient checker against double-precision references.
#include "layers/gradient_check.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

Shape BatchShape(int64_t batch, const Shape& per_sample) {
  std::vector<int64_t> dims;
  dims.push_back(batch);
  for (int64_t d : per_sample.dims()) dims.push_back(d);
  return Shape(absl::Span<const int64_t>(dims));
}

std::vector<double> ToDouble(const Tensor& t) {
  return std::vector<double>(t.data(), t.data() + t.size());
}

// Returns the indices to check in a tensor of n elements.
std::vector<int64_t> IndicesToCheck(int64_t n, int64_t max_checks) {
  std::vector<int64_t> idx;
  if (max_checks <= 0 || n <= max_checks) {
    for (int64_t i = 0; i < n; ++i) idx.push_back(i);
    return idx;
  }
  if (max_checks == 1) return {0};
  for (int64_t j = 0; j < max_checks; ++j) {
    const int64_t i = j * (n - 1) / (max_checks - 1);
    if (idx.empty() || idx.back() != i) idx.push_back(i);
  }
  return idx;
}

// Accumulates mismatches of one tensor and formats them.
class Comparison {
 public:
  Comparison(std::string name, double abs_tol, double rel_tol)
      : name_(std::move(name)), abs_tol_(abs_tol), rel_tol_(rel_tol) {}

  void Add(int64_t index, double actual, double expected) {
    ++checked_;
    const double err = std::abs(actual - expected);
    const double tol = abs_tol_ + rel_tol_ * std::abs(expected);
    if (!(err <= tol)) {  // NaN fails
      if (bad_ < 5) {
        absl::StrAppend(&first_, "\n    [", index, "] analytic ", actual, " numeric ",
                        expected);
      }
      ++bad_;
    }
    if (!(err <= worst_err_)) {
      worst_err_ = err;
      worst_index_ = index;
    }
  }

  bool ok() const { return bad_ == 0; }

  std::string Report() const {
    return absl::StrCat("\n  ", name_, ": ", bad_, " of ", checked_, " checked elements differ",
                        " (abs_tol ", abs_tol_, ", rel_tol ", rel_tol_, "); worst |err| ",
                        worst_err_, " at [", worst_index_, "]", first_);
  }

 private:
  std::string name_;
  double abs_tol_, rel_tol_;
  int64_t checked_ = 0, bad_ = 0, worst_index_ = 0;
  double worst_err_ = 0.0;
  std::string first_;
};

double DotWith(const std::vector<double>& y, const std::vector<double>& dy) {
  double s = 0.0;
  for (size_t i = 0; i < y.size(); ++i) s += y[i] * dy[i];
  return s;
}

void FillInput(const GradCheckOptions& options, Rng& rng, Tensor* x) {
  if (options.fill_input) {
    options.fill_input(rng, x);
  } else {
    rng.FillUniform(x->data(), static_cast<size_t>(x->size()), options.input_low,
                    options.input_high);
  }
}

}  // namespace

::testing::AssertionResult CheckLayerGradients(Layer& layer, int64_t batch,
                                               const GradCheckOptions& options) {
  SIMDNET_CHECK(batch >= 1);
  SIMDNET_CHECK(options.reference != nullptr);
  Rng rng(options.seed, /*stream=*/0x67726164);  // "grad"
  const Shape in_shape = BatchShape(batch, layer.InputShape());
  const Shape out_shape = BatchShape(batch, layer.OutputShape());

  Tensor x(in_shape);
  FillInput(options, rng, &x);
  Tensor dy(out_shape);
  rng.FillUniform(dy.data(), static_cast<size_t>(dy.size()), -1.0f, 1.0f);

  std::vector<NamedParameter> params = layer.Params();
  std::vector<std::vector<double>> param_values;
  std::vector<Tensor> grads_before;
  for (const NamedParameter& p : params) {
    param_values.push_back(ToDouble(p.param->value));
    grads_before.push_back(p.param->grad.Clone());
  }

  // Forward: shape, then values against the reference.
  Tensor y;
  layer.Forward(x, &y);
  if (y.shape() != out_shape) {
    return ::testing::AssertionFailure()
           << layer.Describe() << ": Forward produced shape " << y.shape().ToString()
           << ", expected " << out_shape.ToString();
  }
  const std::vector<double> xd = ToDouble(x);
  const std::vector<double> y_ref = options.reference(xd, param_values);
  if (static_cast<int64_t>(y_ref.size()) != y.size()) {
    return ::testing::AssertionFailure()
           << layer.Describe() << ": reference returned " << y_ref.size()
           << " values, the layer's output has " << y.size();
  }
  bool ok = true;
  std::string report;
  Comparison forward("forward y", options.forward_abs_tol, options.forward_rel_tol);
  for (int64_t i = 0; i < y.size(); ++i) forward.Add(i, y[i], y_ref[i]);
  if (!forward.ok()) {
    ok = false;
    report += forward.Report();
  }

  Tensor dx;
  layer.Backward(dy, &dx);
  if (dx.shape() != in_shape) {
    return ::testing::AssertionFailure()
           << layer.Describe() << ": Backward produced dx of shape " << dx.shape().ToString()
           << ", expected " << in_shape.ToString();
  }
  const std::vector<double> dyd = ToDouble(dy);
  const double h = options.step;

  // d L / d x.
  {
    Comparison cmp("dx", options.grad_abs_tol, options.grad_rel_tol);
    std::vector<double> xp = xd;
    for (int64_t i : IndicesToCheck(x.size(), options.max_checks_per_tensor)) {
      const double v = xp[i];
      xp[i] = v + h;
      const double lp = DotWith(options.reference(xp, param_values), dyd);
      xp[i] = v - h;
      const double lm = DotWith(options.reference(xp, param_values), dyd);
      xp[i] = v;
      cmp.Add(i, dx[i], (lp - lm) / (2.0 * h));
    }
    if (!cmp.ok()) {
      ok = false;
      report += cmp.Report();
    }
  }

  // d L / d param for every parameter; frozen ones must be untouched.
  for (size_t p = 0; p < params.size(); ++p) {
    const Tensor& grad = params[p].param->grad;
    const Tensor& before = grads_before[p];
    if (params[p].param->frozen) {
      Comparison cmp(params[p].name + " (frozen: grad must not change)", 0.0, 0.0);
      for (int64_t i = 0; i < grad.size(); ++i) cmp.Add(i, grad[i], before[i]);
      if (!cmp.ok()) {
        ok = false;
        report += cmp.Report();
      }
      continue;
    }
    Comparison cmp(params[p].name, options.grad_abs_tol, options.grad_rel_tol);
    std::vector<double>& values = param_values[p];
    for (int64_t i : IndicesToCheck(grad.size(), options.max_checks_per_tensor)) {
      const double v = values[i];
      values[i] = v + h;
      const double lp = DotWith(options.reference(xd, param_values), dyd);
      values[i] = v - h;
      const double lm = DotWith(options.reference(xd, param_values), dyd);
      values[i] = v;
      cmp.Add(i, static_cast<double>(grad[i]) - static_cast<double>(before[i]),
              (lp - lm) / (2.0 * h));
    }
    if (!cmp.ok()) {
      ok = false;
      report += cmp.Report();
    }
  }

  if (ok) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << layer.Describe() << " with input " << in_shape.ToString() << ":" << report;
}

::testing::AssertionResult CheckLossGradients(const LossUnderTest& loss,
                                              const Shape& input_shape,
                                              const ReferenceLoss& reference,
                                              const GradCheckOptions& options) {
  SIMDNET_CHECK(loss != nullptr && reference != nullptr);
  Rng rng(options.seed, /*stream=*/0x6c6f7373);  // "loss"
  Tensor input(input_shape);
  FillInput(options, rng, &input);
  Tensor grad;
  absl::StatusOr<float> value = loss(input, &grad);
  if (!value.ok()) {
    return ::testing::AssertionFailure() << "loss returned " << value.status();
  }
  if (grad.shape() != input_shape) {
    return ::testing::AssertionFailure()
           << "loss gradient has shape " << grad.shape().ToString() << ", expected "
           << input_shape.ToString();
  }
  std::vector<double> xd = ToDouble(input);
  bool ok = true;
  std::string report;
  Comparison forward("loss value", options.forward_abs_tol, options.forward_rel_tol);
  forward.Add(0, *value, reference(xd));
  if (!forward.ok()) {
    ok = false;
    report += forward.Report();
  }
  Comparison cmp("d loss / d input", options.grad_abs_tol, options.grad_rel_tol);
  const double h = options.step;
  for (int64_t i : IndicesToCheck(input.size(), options.max_checks_per_tensor)) {
    const double v = xd[i];
    xd[i] = v + h;
    const double lp = reference(xd);
    xd[i] = v - h;
    const double lm = reference(xd);
    xd[i] = v;
    cmp.Add(i, grad[i], (lp - lm) / (2.0 * h));
  }
  if (!cmp.ok()) {
    ok = false;
    report += cmp.Report();
  }
  if (ok) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "loss with input " << input_shape.ToString() << ":"
                                       << report;
}

}  // namespace simdnet
