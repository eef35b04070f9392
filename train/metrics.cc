// Classification metrics: argmax, top-k, running averages and the confusion matrix.
#include "train/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

absl::Status CheckLogits(const Tensor& logits, absl::string_view fn) {
  if (logits.rank() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(fn, ": logits must be rank 2 (N, C), got ", logits.shape().ToString()));
  }
  if (logits.dim(1) == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(fn, ": logits ", logits.shape().ToString(), " have no classes"));
  }
  return absl::OkStatus();
}

absl::Status CheckLabels(const Tensor& logits, absl::Span<const int64_t> labels,
                         absl::string_view fn) {
  if (static_cast<int64_t>(labels.size()) != logits.dim(0)) {
    return absl::InvalidArgumentError(
        absl::StrCat(fn, ": ", labels.size(), " labels for logits ", logits.shape().ToString()));
  }
  const int64_t c = logits.dim(1);
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || labels[i] >= c) {
      return absl::InvalidArgumentError(
          absl::StrCat(fn, ": label[", i, "] = ", labels[i], " is outside [0, ", c, ")"));
    }
  }
  return absl::OkStatus();
}

// True if class a ranks above class b: larger value, or equal value and lower index; NaN
// ranks below everything (and NaNs among themselves by index).
inline bool RanksAbove(float va, int64_t a, float vb, int64_t b) {
  const bool na = std::isnan(va), nb = std::isnan(vb);
  if (na != nb) return nb;
  if (!na && va != vb) return va > vb;
  return a < b;
}

}  // namespace

void RunningMetrics::AddBatch(double mean_loss, int64_t batch_size, int64_t correct) {
  SIMDNET_CHECK(batch_size >= 0 && correct >= 0 && correct <= batch_size);
  loss_sum_ += mean_loss * static_cast<double>(batch_size);
  samples_ += batch_size;
  correct_ += correct;
}

absl::StatusOr<std::vector<int64_t>> ArgmaxRows(const Tensor& logits) {
  SIMDNET_RETURN_IF_ERROR(CheckLogits(logits, "ArgmaxRows"));
  const int64_t n = logits.dim(0), c = logits.dim(1);
  std::vector<int64_t> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const float* row = logits.data() + i * c;
    int64_t best = 0;
    for (int64_t j = 1; j < c; ++j) {
      if (RanksAbove(row[j], j, row[best], best)) best = j;
    }
    out[static_cast<size_t>(i)] = best;
  }
  return out;
}

absl::StatusOr<std::vector<bool>> TopKCorrect(const Tensor& logits,
                                              absl::Span<const int64_t> labels, int64_t k) {
  SIMDNET_RETURN_IF_ERROR(CheckLogits(logits, "TopKCorrect"));
  SIMDNET_RETURN_IF_ERROR(CheckLabels(logits, labels, "TopKCorrect"));
  const int64_t n = logits.dim(0), c = logits.dim(1);
  if (k < 1 || k > c) {
    return absl::InvalidArgumentError(
        absl::StrCat("TopKCorrect: k = ", k, " is outside [1, ", c, "] for ", c, " classes"));
  }
  std::vector<bool> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const float* row = logits.data() + i * c;
    const int64_t y = labels[static_cast<size_t>(i)];
    if (std::isnan(row[y])) continue;  // A NaN label logit is never a prediction.
    int64_t rank = 0;
    for (int64_t j = 0; j < c && rank < k; ++j) {
      if (j != y && RanksAbove(row[j], j, row[y], y)) ++rank;
    }
    out[static_cast<size_t>(i)] = rank < k;
  }
  return out;
}

absl::StatusOr<int64_t> CountTopKCorrect(const Tensor& logits, absl::Span<const int64_t> labels,
                                         int64_t k) {
  SIMDNET_ASSIGN_OR_RETURN(std::vector<bool> hit, TopKCorrect(logits, labels, k));
  return static_cast<int64_t>(std::count(hit.begin(), hit.end(), true));
}

absl::StatusOr<double> TopKAccuracy(const Tensor& logits, absl::Span<const int64_t> labels,
                                    int64_t k) {
  SIMDNET_ASSIGN_OR_RETURN(int64_t hits, CountTopKCorrect(logits, labels, k));
  return labels.empty() ? 0.0 : static_cast<double>(hits) / static_cast<double>(labels.size());
}

absl::StatusOr<ConfusionMatrix> ConfusionMatrix::Create(int64_t num_classes) {
  if (num_classes < 1 || num_classes > kMaxClasses) {
    return absl::InvalidArgumentError(absl::StrCat("ConfusionMatrix: num_classes = ", num_classes,
                                                   " is outside [1, ", kMaxClasses, "]"));
  }
  return ConfusionMatrix(num_classes);
}

absl::Status ConfusionMatrix::Add(absl::Span<const int64_t> labels,
                                  absl::Span<const int64_t> predictions) {
  if (labels.size() != predictions.size()) {
    return absl::InvalidArgumentError(absl::StrCat("ConfusionMatrix::Add: ", labels.size(),
                                                   " labels but ", predictions.size(),
                                                   " predictions"));
  }
  for (size_t i = 0; i < labels.size(); ++i) {
    for (const auto& [what, v] : {std::pair<const char*, int64_t>{"label", labels[i]},
                                  std::pair<const char*, int64_t>{"prediction", predictions[i]}}) {
      if (v < 0 || v >= n_) {
        return absl::InvalidArgumentError(absl::StrCat("ConfusionMatrix::Add: ", what, "[", i,
                                                       "] = ", v, " is outside [0, ", n_, ")"));
      }
    }
  }
  for (size_t i = 0; i < labels.size(); ++i) {
    ++counts_[static_cast<size_t>(labels[i] * n_ + predictions[i])];
  }
  return absl::OkStatus();
}

absl::Status ConfusionMatrix::AddLogits(const Tensor& logits, absl::Span<const int64_t> labels) {
  SIMDNET_RETURN_IF_ERROR(CheckLogits(logits, "ConfusionMatrix::AddLogits"));
  if (logits.dim(1) != n_) {
    return absl::InvalidArgumentError(absl::StrCat("ConfusionMatrix::AddLogits: logits ",
                                                   logits.shape().ToString(), " have ",
                                                   logits.dim(1), " classes, matrix has ", n_));
  }
  SIMDNET_RETURN_IF_ERROR(CheckLabels(logits, labels, "ConfusionMatrix::AddLogits"));
  SIMDNET_ASSIGN_OR_RETURN(std::vector<int64_t> pred, ArgmaxRows(logits));
  return Add(labels, pred);
}

absl::Status ConfusionMatrix::Merge(const ConfusionMatrix& other) {
  if (other.n_ != n_) {
    return absl::InvalidArgumentError(
        absl::StrCat("ConfusionMatrix::Merge: ", other.n_, " classes vs ", n_));
  }
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  return absl::OkStatus();
}

void ConfusionMatrix::Reset() { std::fill(counts_.begin(), counts_.end(), 0); }

int64_t ConfusionMatrix::count(int64_t truth, int64_t predicted) const {
  SIMDNET_CHECK(truth >= 0 && truth < n_ && predicted >= 0 && predicted < n_);
  return counts_[static_cast<size_t>(truth * n_ + predicted)];
}

int64_t ConfusionMatrix::total() const {
  int64_t t = 0;
  for (int64_t v : counts_) t += v;
  return t;
}

int64_t ConfusionMatrix::support(int64_t truth) const {
  SIMDNET_CHECK(truth >= 0 && truth < n_);
  int64_t s = 0;
  for (int64_t j = 0; j < n_; ++j) s += counts_[static_cast<size_t>(truth * n_ + j)];
  return s;
}

double ConfusionMatrix::accuracy() const {
  const int64_t t = total();
  if (t == 0) return 0.0;
  int64_t trace = 0;
  for (int64_t i = 0; i < n_; ++i) trace += count(i, i);
  return static_cast<double>(trace) / static_cast<double>(t);
}

std::vector<double> ConfusionMatrix::PerClassAccuracy() const {
  std::vector<double> out(static_cast<size_t>(n_));
  for (int64_t i = 0; i < n_; ++i) {
    const int64_t s = support(i);
    out[static_cast<size_t>(i)] = s == 0
                                      ? std::numeric_limits<double>::quiet_NaN()
                                      : static_cast<double>(count(i, i)) / static_cast<double>(s);
  }
  return out;
}

std::vector<double> ConfusionMatrix::PerClassPrecision() const {
  std::vector<double> out(static_cast<size_t>(n_));
  for (int64_t j = 0; j < n_; ++j) {
    int64_t col = 0;
    for (int64_t i = 0; i < n_; ++i) col += count(i, j);
    out[static_cast<size_t>(j)] = col == 0
                                      ? std::numeric_limits<double>::quiet_NaN()
                                      : static_cast<double>(count(j, j)) / static_cast<double>(col);
  }
  return out;
}

std::string ConfusionMatrix::ToString(absl::Span<const std::string> class_names) const {
  auto name = [&](int64_t i) {
    return static_cast<size_t>(i) < class_names.size() ? class_names[static_cast<size_t>(i)]
                                                       : absl::StrCat(i);
  };
  size_t label_w = 4;
  for (int64_t i = 0; i < n_; ++i) label_w = std::max(label_w, name(i).size());
  size_t cell_w = 3;
  for (int64_t v : counts_) cell_w = std::max(cell_w, absl::StrCat(v).size());
  std::string out = absl::StrFormat("%-*s |", static_cast<int>(label_w), "true");
  for (int64_t j = 0; j < n_; ++j) absl::StrAppendFormat(&out, " %*d", static_cast<int>(cell_w), j);
  out += "\n";
  for (int64_t i = 0; i < n_; ++i) {
    absl::StrAppendFormat(&out, "%-*s |", static_cast<int>(label_w), name(i));
    for (int64_t j = 0; j < n_; ++j) {
      absl::StrAppendFormat(&out, " %*d", static_cast<int>(cell_w), count(i, j));
    }
    out += "\n";
  }
  return out;
}

}  // namespace simdnet
