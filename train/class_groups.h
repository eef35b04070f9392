// Class groups: a K-way classifier turned into a G-way one without training, by summing the
// softmax probabilities of sets of its classes (e.g. ImageNet's dog breeds 151-268 against its
// foods 924-969: a "dog vs food" classifier from a 1000-class network).
#ifndef SIMDNET_TRAIN_CLASS_GROUPS_H_
#define SIMDNET_TRAIN_CLASS_GROUPS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace simdnet {

struct ClassGroup {
  std::string name;
  std::vector<int64_t> classes;  // ascending, distinct, each in [0, K)
};

// Parses "NAME:RANGES,NAME:RANGES,..." where RANGES is "A-B" or "A" items joined by '+' (e.g.
// "dog:151-268,food:924-969+100"), or, when `text` names a readable file (no ':' in it), that
// file with one "NAME: RANGES" per line ('#' comments and blank lines allowed; items may also be
// separated by spaces). InvalidArgument naming the group and item for: a malformed item, a class
// outside [0, num_classes), a class in two groups, an empty or duplicate name, fewer than 2
// groups. Requires: num_classes >= 1.
absl::StatusOr<std::vector<ClassGroup>> ParseClassGroups(absl::string_view text,
                                                         int64_t num_classes);

// Returns the summed probability of each group for one sample's K probabilities.
// Requires: every class of every group < probabilities.size().
std::vector<double> GroupProbabilities(absl::Span<const float> probabilities,
                                       absl::Span<const ClassGroup> groups);

// The grouped classifier's result on labelled samples.
struct GroupedAccuracy {
  int64_t samples = 0;
  int64_t correct = 0;
  double accuracy = 0.0;
  std::vector<std::vector<int64_t>> confusion;  // [true group][predicted group]
};

// Scores `probabilities` (N x K, row-major) against `labels` (N entries, indices into
// `label_names`): each label name must be a group name (InvalidArgument naming the first that is
// not, and listing the groups). The prediction is the group with the largest summed probability
// (the first on ties).
absl::StatusOr<GroupedAccuracy> ScoreClassGroups(absl::Span<const float> probabilities,
                                                 int64_t num_classes,
                                                 absl::Span<const int32_t> labels,
                                                 absl::Span<const std::string> label_names,
                                                 absl::Span<const ClassGroup> groups);

}  // namespace simdnet

#endif  // SIMDNET_TRAIN_CLASS_GROUPS_H_
