// Implementation of the optimizer / schedule spec parser (optim/spec_parser.h).
#include "optim/spec_parser.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace simdnet {
namespace optim_internal {
namespace {

bool IsIdentifier(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_')
      return false;
  }
  return true;
}

bool ParseFiniteDouble(absl::string_view text, double* out) {
  return absl::SimpleAtod(text, out) && std::isfinite(*out);
}

}  // namespace

std::string FormatSpecDouble(double value) {
  char buf[40];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, value);
    if (std::strtod(buf, nullptr) == value) break;
  }
  return buf;
}

absl::StatusOr<SpecArgs> SpecArgs::Parse(absl::string_view spec,
                                         absl::string_view what) {
  SpecArgs args;
  args.what_ = std::string(what);
  args.spec_ = std::string(spec);
  const size_t colon = spec.find(':');
  const absl::string_view name =
      absl::StripAsciiWhitespace(spec.substr(0, colon));
  if (!IsIdentifier(name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        args.Context(),
        ": expected a name of letters, digits or '_' before ':', got '", name,
        "'"));
  }
  args.name_ = std::string(name);
  if (colon == absl::string_view::npos) return args;
  const absl::string_view rest = spec.substr(colon + 1);
  if (absl::StripAsciiWhitespace(rest).empty()) return args;
  for (absl::string_view pair : absl::StrSplit(rest, ',')) {
    const size_t eq = pair.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(args.Context(), ": expected key=value, got '",
                       absl::StripAsciiWhitespace(pair), "'"));
    }
    const absl::string_view key =
        absl::StripAsciiWhitespace(pair.substr(0, eq));
    const absl::string_view value =
        absl::StripAsciiWhitespace(pair.substr(eq + 1));
    if (!IsIdentifier(key)) {
      return absl::InvalidArgumentError(
          absl::StrCat(args.Context(), ": bad key '", key, "' in '",
                       absl::StripAsciiWhitespace(pair),
                       "' (expected letters, digits or '_')"));
    }
    if (value.empty() || value.find_first_of(":=") != absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          args.Context(), ": bad value '", value, "' for key '", key, "'"));
    }
    if (!args.values_.emplace(std::string(key), std::string(value)).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          args.Context(), ": key '", key, "' given more than once"));
    }
  }
  return args;
}

std::string SpecArgs::Context() const {
  return absl::StrCat(what_, " '", spec_, "'");
}

bool SpecArgs::Has(absl::string_view key) const {
  return values_.count(std::string(key)) > 0;
}

absl::Status SpecArgs::BadValue(absl::string_view key,
                                absl::string_view expected) const {
  return absl::InvalidArgumentError(
      absl::StrCat(Context(), ": invalid ", key, "=",
                   values_.at(std::string(key)), ": expected ", expected));
}

absl::StatusOr<double> SpecArgs::GetDouble(absl::string_view key, double def) {
  known_.insert(std::string(key));
  auto it = values_.find(std::string(key));
  if (it == values_.end()) return def;
  double value;
  if (!ParseFiniteDouble(it->second, &value))
    return BadValue(key, "a finite number");
  return value;
}

absl::StatusOr<int64_t> SpecArgs::GetInt(absl::string_view key, int64_t def) {
  known_.insert(std::string(key));
  auto it = values_.find(std::string(key));
  if (it == values_.end()) return def;
  int64_t value;
  if (!absl::SimpleAtoi(it->second, &value)) return BadValue(key, "an integer");
  return value;
}

absl::StatusOr<bool> SpecArgs::GetBool(absl::string_view key, bool def) {
  known_.insert(std::string(key));
  auto it = values_.find(std::string(key));
  if (it == values_.end()) return def;
  const std::string& v = it->second;
  if (v == "1" || v == "true") return true;
  if (v == "0" || v == "false") return false;
  return BadValue(key, "0, 1, true or false");
}

absl::StatusOr<std::string> SpecArgs::GetString(absl::string_view key,
                                                absl::string_view def) {
  known_.insert(std::string(key));
  auto it = values_.find(std::string(key));
  if (it == values_.end()) return std::string(def);
  return it->second;
}

absl::StatusOr<std::vector<double>> SpecArgs::GetDoubleList(
    absl::string_view key, const std::vector<double>& def) {
  known_.insert(std::string(key));
  auto it = values_.find(std::string(key));
  if (it == values_.end()) return def;
  std::vector<double> out;
  for (absl::string_view item : absl::StrSplit(it->second, '/')) {
    double value;
    if (!ParseFiniteDouble(absl::StripAsciiWhitespace(item), &value)) {
      return BadValue(key, "a '/'-separated list of finite numbers");
    }
    out.push_back(value);
  }
  return out;
}

absl::Status SpecArgs::Require(bool ok, absl::string_view key,
                               absl::string_view requirement) const {
  if (ok) return absl::OkStatus();
  auto it = values_.find(std::string(key));
  const std::string value = it == values_.end() ? "(default)" : it->second;
  return absl::InvalidArgumentError(absl::StrCat(
      Context(), ": invalid ", key, "=", value, ": ", requirement));
}

absl::Status SpecArgs::RequireKey(absl::string_view key) const {
  if (Has(key)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      Context(), ": missing required key '", key, "' for '", name_, "'"));
}

absl::Status SpecArgs::CheckNoUnknownKeys() const {
  for (const auto& [key, value] : values_) {
    if (known_.count(key) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(Context(), ": unknown key '", key, "' for '", name_,
                       "' (known keys: ", absl::StrJoin(known_, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace optim_internal
}  // namespace simdnet
