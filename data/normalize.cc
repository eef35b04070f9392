// Training-split statistics, their application (via the affine kernel for per-channel
// normalization) and their key-value serialization.
#include "data/normalize.h"

#include <cmath>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "data/augment_kernels.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

std::string JoinFloats(const std::vector<float>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) absl::StrAppend(&out, i ? "," : "", absl::StrFormat("%.9g", v[i]));
  return out;
}

absl::StatusOr<std::vector<float>> ParseFloats(const std::string& text, const std::string& key) {
  std::vector<float> out;
  if (text.empty()) return out;
  for (absl::string_view tok : absl::StrSplit(text, ',')) {
    float v;
    if (!absl::SimpleAtof(tok, &v) || !std::isfinite(v)) {
      return absl::InvalidArgumentError(
          absl::StrCat("normalization key '", key, "': bad number '", tok, "'"));
    }
    out.push_back(v);
  }
  return out;
}

absl::StatusOr<std::string> Get(const std::map<std::string, std::string>& kv,
                                const std::string& key) {
  auto it = kv.find(key);
  if (it == kv.end()) {
    return absl::InvalidArgumentError(absl::StrCat("normalization: missing key '", key, "'"));
  }
  return it->second;
}

// Sums per-element (sum, sum of squares) over all samples in sample order.
absl::Status Accumulate(const SampleSource& train, std::vector<double>* sum,
                        std::vector<double>* sum_sq) {
  const int64_t n = train.size();
  if (n <= 0) {
    return absl::InvalidArgumentError("normalization statistics: the training set is empty");
  }
  const int64_t per = train.sample_shape().size();
  sum->assign(static_cast<size_t>(per), 0.0);
  if (sum_sq) sum_sq->assign(static_cast<size_t>(per), 0.0);
  std::vector<float> buf(static_cast<size_t>(per));
  for (int64_t i = 0; i < n; ++i) {
    SIMDNET_RETURN_IF_ERROR(train.ReadSample(i, buf.data()));
    for (int64_t k = 0; k < per; ++k) {
      (*sum)[k] += buf[k];
      if (sum_sq) (*sum_sq)[k] += static_cast<double>(buf[k]) * buf[k];
    }
  }
  return absl::OkStatus();
}

}  // namespace

void Normalization::Apply(float* data, int64_t count) const {
  if (kind == Kind::kNone) return;
  const int64_t plane = height * width;
  const int64_t per = channels * plane;
  for (int64_t s = 0; s < count; ++s) {
    float* x = data + s * per;
    if (kind == Kind::kMeanImage) {
      SIMDNET_CHECK(static_cast<int64_t>(mean.size()) == per);
      for (int64_t k = 0; k < per; ++k) x[k] -= mean[k];
    } else {
      SIMDNET_CHECK(static_cast<int64_t>(mean.size()) == channels &&
                    static_cast<int64_t>(stddev.size()) == channels);
      for (int64_t c = 0; c < channels; ++c) {
        const float inv = 1.0f / stddev[c];
        AffineClamp(x + c * plane, x + c * plane, static_cast<size_t>(plane), inv, -mean[c] * inv,
                    -HUGE_VALF, HUGE_VALF);
      }
    }
  }
}

std::map<std::string, std::string> Normalization::ToKeyValues() const {
  std::map<std::string, std::string> kv;
  kv["kind"] = kind == Kind::kNone        ? "none"
               : kind == Kind::kMeanImage ? "mean_image"
                                          : "per_channel";
  kv["shape"] = absl::StrCat(channels, ",", height, ",", width);
  kv["mean"] = JoinFloats(mean);
  kv["std"] = JoinFloats(stddev);
  return kv;
}

absl::StatusOr<Normalization> Normalization::FromKeyValues(
    const std::map<std::string, std::string>& kv) {
  Normalization n;
  SIMDNET_ASSIGN_OR_RETURN(std::string kind, Get(kv, "kind"));
  if (kind == "none") {
    n.kind = Kind::kNone;
  } else if (kind == "mean_image") {
    n.kind = Kind::kMeanImage;
  } else if (kind == "per_channel") {
    n.kind = Kind::kPerChannel;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "normalization key 'kind': unknown value '", kind, "' (none, mean_image, per_channel)"));
  }
  SIMDNET_ASSIGN_OR_RETURN(std::string shape, Get(kv, "shape"));
  std::vector<std::string> dims = absl::StrSplit(shape, ',');
  int64_t d[3];
  if (dims.size() != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("normalization key 'shape': '", shape, "' is not C,H,W"));
  }
  for (int i = 0; i < 3; ++i) {
    if (!absl::SimpleAtoi(dims[i], &d[i]) || d[i] < 0 || d[i] > (1 << 20)) {
      return absl::InvalidArgumentError(
          absl::StrCat("normalization key 'shape': bad dimension '", dims[i], "'"));
    }
  }
  n.channels = d[0];
  n.height = d[1];
  n.width = d[2];
  SIMDNET_ASSIGN_OR_RETURN(std::string mean, Get(kv, "mean"));
  SIMDNET_ASSIGN_OR_RETURN(std::string stddev, Get(kv, "std"));
  SIMDNET_ASSIGN_OR_RETURN(n.mean, ParseFloats(mean, "mean"));
  SIMDNET_ASSIGN_OR_RETURN(n.stddev, ParseFloats(stddev, "std"));
  size_t want_mean = 0, want_std = 0;
  if (n.kind == Kind::kMeanImage) want_mean = static_cast<size_t>(d[0] * d[1] * d[2]);
  if (n.kind == Kind::kPerChannel) want_mean = want_std = static_cast<size_t>(d[0]);
  if (n.mean.size() != want_mean || n.stddev.size() != want_std) {
    return absl::InvalidArgumentError(absl::StrCat(
        "normalization: kind '", kind, "' with shape ", shape, " needs ", want_mean,
        " means and ", want_std, " stds, got ", n.mean.size(), " and ", n.stddev.size()));
  }
  for (size_t c = 0; c < n.stddev.size(); ++c) {
    if (!(n.stddev[c] > 0.0f)) {
      return absl::InvalidArgumentError(
          absl::StrCat("normalization key 'std': entry ", c, " is ", n.stddev[c], "; must be > 0"));
    }
  }
  return n;
}

absl::StatusOr<Normalization> ComputeMeanImage(const SampleSource& train) {
  std::vector<double> sum;
  SIMDNET_RETURN_IF_ERROR(Accumulate(train, &sum, nullptr));
  const Shape s = train.sample_shape();
  Normalization n;
  n.kind = Normalization::Kind::kMeanImage;
  n.channels = s.dim(0);
  n.height = s.dim(1);
  n.width = s.dim(2);
  n.mean.resize(sum.size());
  for (size_t k = 0; k < sum.size(); ++k) n.mean[k] = static_cast<float>(sum[k] / train.size());
  return n;
}

absl::StatusOr<Normalization> ComputePerChannelStats(const SampleSource& train) {
  std::vector<double> sum, sum_sq;
  SIMDNET_RETURN_IF_ERROR(Accumulate(train, &sum, &sum_sq));
  const Shape s = train.sample_shape();
  Normalization n;
  n.kind = Normalization::Kind::kPerChannel;
  n.channels = s.dim(0);
  n.height = s.dim(1);
  n.width = s.dim(2);
  const int64_t plane = n.height * n.width;
  const double count = static_cast<double>(train.size()) * plane;
  for (int64_t c = 0; c < n.channels; ++c) {
    double s1 = 0, s2 = 0;
    for (int64_t p = 0; p < plane; ++p) {
      s1 += sum[c * plane + p];
      s2 += sum_sq[c * plane + p];
    }
    const double mean = s1 / count;
    const double var = std::max(0.0, s2 / count - mean * mean);
    n.mean.push_back(static_cast<float>(mean));
    n.stddev.push_back(static_cast<float>(std::max(std::sqrt(var), 1e-6)));
  }
  return n;
}

absl::Status CheckNormalizationShape(const Normalization& norm, const Shape& shape) {
  if (norm.kind == Normalization::Kind::kNone) return absl::OkStatus();
  const Shape want({norm.channels, norm.height, norm.width});
  if (want != shape) {
    return absl::InvalidArgumentError(absl::StrCat("normalization statistics are for samples of ",
                                                   want.ToString(), " but the data has ",
                                                   shape.ToString()));
  }
  return absl::OkStatus();
}

}  // namespace simdnet
