// Class groups: parsing "NAME:RANGES" lists and scoring the grouped classifier.
#include "train/class_groups.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tensor/atomic_file.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

constexpr int64_t kMaxGroupsFileBytes = int64_t{1} << 20;

absl::Status ParseClassItem(absl::string_view where, absl::string_view item,
                            int64_t num_classes, std::vector<int64_t>* classes) {
  const std::vector<absl::string_view> ends = absl::StrSplit(item, absl::MaxSplits('-', 1));
  int64_t lo = 0, hi = 0;
  if (!absl::SimpleAtoi(ends[0], &lo) || (ends.size() == 2 && !absl::SimpleAtoi(ends[1], &hi))) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": '", item,
                                                   "' is not a class index or range A-B"));
  }
  if (ends.size() == 1) hi = lo;
  if (lo < 0 || hi >= num_classes || lo > hi) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": '", item, "' is not within [0, ", num_classes - 1,
                     "] (or its range is reversed); the model has ", num_classes, " classes"));
  }
  for (int64_t c = lo; c <= hi; ++c) classes->push_back(c);
  return absl::OkStatus();
}

absl::StatusOr<ClassGroup> ParseGroup(absl::string_view where, absl::string_view text,
                                      int64_t num_classes) {
  const size_t colon = text.find(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": '", text, "' is not NAME:RANGES (e.g. dog:151-268)"));
  }
  ClassGroup g;
  g.name = std::string(absl::StripAsciiWhitespace(text.substr(0, colon)));
  if (g.name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": '", text, "' has no group name"));
  }
  const std::string at = absl::StrCat(where, " (group '", g.name, "')");
  for (absl::string_view item :
       absl::StrSplit(text.substr(colon + 1), absl::ByAnyChar("+ \t"), absl::SkipEmpty())) {
    SIMDNET_RETURN_IF_ERROR(ParseClassItem(at, item, num_classes, &g.classes));
  }
  if (g.classes.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(at, ": no classes"));
  }
  std::sort(g.classes.begin(), g.classes.end());
  g.classes.erase(std::unique(g.classes.begin(), g.classes.end()), g.classes.end());
  return g;
}

}  // namespace

absl::StatusOr<std::vector<ClassGroup>> ParseClassGroups(absl::string_view text,
                                                         int64_t num_classes) {
  std::vector<std::pair<std::string, std::string>> entries;  // (where, text)
  if (text.find(':') == absl::string_view::npos) {
    SIMDNET_ASSIGN_OR_RETURN(std::string file, ReadFile(text, kMaxGroupsFileBytes));
    int line_no = 0;
    for (absl::string_view line : absl::StrSplit(file, '\n')) {
      ++line_no;
      const size_t hash = line.find('#');
      if (hash != absl::string_view::npos) line = line.substr(0, hash);
      line = absl::StripAsciiWhitespace(line);
      if (line.empty()) continue;
      entries.emplace_back(absl::StrCat(text, ":", line_no), std::string(line));
    }
  } else {
    int n = 0;
    for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
      entries.emplace_back(absl::StrCat("--class_groups item ", ++n), std::string(part));
    }
  }
  std::vector<ClassGroup> groups;
  std::map<int64_t, std::string> owner;
  for (const auto& [where, entry] : entries) {
    SIMDNET_ASSIGN_OR_RETURN(ClassGroup g, ParseGroup(where, entry, num_classes));
    for (const ClassGroup& other : groups) {
      if (other.name == g.name) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": group '", g.name, "' is defined twice"));
      }
    }
    for (int64_t c : g.classes) {
      auto [it, inserted] = owner.emplace(c, g.name);
      if (!inserted) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": class ", c, " is in group '",
                                                       it->second, "' and in '", g.name, "'"));
      }
    }
    groups.push_back(std::move(g));
  }
  if (groups.size() < 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "class groups '", text, "': need at least 2 groups, got ", groups.size()));
  }
  return groups;
}

std::vector<double> GroupProbabilities(absl::Span<const float> probabilities,
                                       absl::Span<const ClassGroup> groups) {
  std::vector<double> out;
  out.reserve(groups.size());
  for (const ClassGroup& g : groups) {
    double sum = 0.0;
    for (int64_t c : g.classes) sum += probabilities[static_cast<size_t>(c)];
    out.push_back(sum);
  }
  return out;
}

absl::StatusOr<GroupedAccuracy> ScoreClassGroups(absl::Span<const float> probabilities,
                                                 int64_t num_classes,
                                                 absl::Span<const int32_t> labels,
                                                 absl::Span<const std::string> label_names,
                                                 absl::Span<const ClassGroup> groups) {
  std::vector<int64_t> group_of_label(label_names.size(), -1);
  std::vector<std::string> names;
  for (const ClassGroup& g : groups) names.push_back(g.name);
  for (size_t l = 0; l < label_names.size(); ++l) {
    auto it = std::find(names.begin(), names.end(), label_names[l]);
    if (it == names.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("data class '", label_names[l], "' is not a class group (groups: ",
                       absl::StrJoin(names, ", "), "); name the folders after the groups"));
    }
    group_of_label[l] = it - names.begin();
  }
  const size_t n = labels.size();
  if (probabilities.size() != n * static_cast<size_t>(num_classes)) {
    return absl::InvalidArgumentError(
        absl::StrCat("class groups: ", probabilities.size(), " probabilities for ", n,
                     " samples of ", num_classes, " classes"));
  }
  GroupedAccuracy r;
  r.confusion.assign(groups.size(), std::vector<int64_t>(groups.size(), 0));
  for (size_t i = 0; i < n; ++i) {
    const std::vector<double> p = GroupProbabilities(
        probabilities.subspan(i * static_cast<size_t>(num_classes),
                              static_cast<size_t>(num_classes)),
        groups);
    const int64_t predicted = std::max_element(p.begin(), p.end()) - p.begin();
    const int32_t label = labels[i];
    if (label < 0 || static_cast<size_t>(label) >= label_names.size()) {
      return absl::InvalidArgumentError(absl::StrCat("class groups: label ", label, " of sample ",
                                                     i, " has no class name"));
    }
    const int64_t truth = group_of_label[static_cast<size_t>(label)];
    ++r.confusion[static_cast<size_t>(truth)][static_cast<size_t>(predicted)];
    r.correct += predicted == truth;
    ++r.samples;
  }
  r.accuracy = r.samples > 0 ? static_cast<double>(r.correct) / static_cast<double>(r.samples)
                             : 0.0;
  return r;
}

}  // namespace simdnet
