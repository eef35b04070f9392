// The layer registry (keywords, factories, printers) and the spec argument helpers.
#include "layers/layer_registry.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "tensor/status_macros.h"

namespace simdnet {

// ---------------------------------------------------------------------------------------------
// Errors and argument helpers.

absl::Status SpecError::At(const SpecToken& t, absl::string_view why) const {
  std::string shown;
  switch (t.kind) {
    case SpecTokenKind::kEnd:
      shown = "end of input";
      break;
    case SpecTokenKind::kSeparator:
      shown = t.text == ";" ? "';'" : "end of line";
      break;
    default:
      shown = absl::StrCat("'", absl::CHexEscape(t.text.substr(0, 40)),
                           t.text.size() > 40 ? "...'" : "'");
  }
  return absl::InvalidArgumentError(
      absl::StrCat(source_, ":", t.line, ":", t.column, ": ", shown, ": ", why));
}

absl::Status SpecError::General(absl::string_view why) const {
  return absl::InvalidArgumentError(absl::StrCat(source_, ": ", why));
}

absl::StatusOr<int64_t> ParseSpecInt(const SpecToken& t, absl::string_view digits,
                                     absl::string_view what, int64_t min, int64_t max,
                                     const SpecError& err) {
  int64_t v = 0;
  if (digits.empty() || !absl::SimpleAtoi(digits, &v)) {
    return err.At(
        t, absl::StrCat(what, " '", absl::CHexEscape(digits.substr(0, 40)), "' is not an integer",
                        digits.size() > 18 ? " (or too large)" : ""));
  }
  if (v < 0 && min >= 0) return err.At(t, absl::StrCat(what, " ", v, " is negative"));
  if (v < min) return err.At(t, absl::StrCat(what, " ", v, " must be at least ", min));
  if (v > max) return err.At(t, absl::StrCat(what, " ", v, " is too large (max ", max, ")"));
  return v;
}

absl::StatusOr<float> ParseSpecFloat(const SpecToken& t, absl::string_view text,
                                     absl::string_view what, const SpecError& err) {
  float v = 0.0f;
  if (!absl::SimpleAtof(text, &v) || !std::isfinite(v)) {
    return err.At(t, absl::StrCat(what, " '", absl::CHexEscape(text.substr(0, 40)),
                                  "' is not a finite number"));
  }
  return v;
}

namespace {

// Parses "N" or "HxW" into (h, w).
absl::StatusOr<std::pair<int64_t, int64_t>> ParsePair(const SpecToken& t, absl::string_view text,
                                                      absl::string_view what, int64_t min,
                                                      const SpecError& err) {
  const std::vector<absl::string_view> parts = absl::StrSplit(text, 'x');
  if (parts.size() > 2) return err.At(t, absl::StrCat(what, " must be N or HxW"));
  SIMDNET_ASSIGN_OR_RETURN(const int64_t h,
                           ParseSpecInt(t, parts[0], what, min, kSpecMaxWindow, err));
  int64_t w = h;
  if (parts.size() == 2) {
    SIMDNET_ASSIGN_OR_RETURN(w, ParseSpecInt(t, parts[1], what, min, kSpecMaxWindow, err));
  }
  return std::make_pair(h, w);
}

}  // namespace

absl::StatusOr<std::array<int64_t, 4>> ParseSpecFourPads(const SpecToken& t, const SpecError& err) {
  const std::vector<absl::string_view> parts =
      absl::StrSplit(absl::string_view(t.text).substr(4), ',');
  if (parts.size() != 4) {
    return err.At(t, "pad= takes four pads T,L,B,R (top, left, bottom, right)");
  }
  std::array<int64_t, 4> v{};
  for (size_t i = 0; i < 4; ++i) {
    SIMDNET_ASSIGN_OR_RETURN(v[i], ParseSpecInt(t, parts[i], "pad", 0, kSpecMaxWindow, err));
  }
  return v;
}

SpecArgs::SpecArgs(const SpecStatement& s, const SpecError& err)
    : s_(s), err_(err), used_(s.args.size(), false) {}

bool SpecArgs::Flag(absl::string_view flag) {
  for (size_t i = 0; i < s_.args.size(); ++i) {
    if (!used_[i] && s_.args[i].text == flag) {
      used_[i] = true;
      return true;
    }
  }
  return false;
}

int SpecArgs::Find(absl::string_view prefix) {
  for (size_t i = 0; i < s_.args.size(); ++i) {
    const std::string& text = s_.args[i].text;
    if (used_[i] || !absl::StartsWith(text, prefix) || text.size() == prefix.size()) continue;
    const char next = text[prefix.size()];
    if (prefix.size() == 1 &&
        !(absl::ascii_isdigit(static_cast<unsigned char>(next)) || next == '-' || next == '+')) {
      continue;
    }
    used_[i] = true;
    return static_cast<int>(i);
  }
  return -1;
}

absl::StatusOr<std::optional<std::pair<int64_t, int64_t>>> SpecArgs::Pair(absl::string_view prefix,
                                                                          absl::string_view what,
                                                                          int64_t min) {
  const int i = Find(prefix);
  if (i < 0) return std::optional<std::pair<int64_t, int64_t>>();
  const SpecToken& t = s_.args[static_cast<size_t>(i)];
  SIMDNET_ASSIGN_OR_RETURN(
      auto p, ParsePair(t, absl::string_view(t.text).substr(prefix.size()), what, min, err_));
  return std::optional<std::pair<int64_t, int64_t>>(p);
}

absl::StatusOr<std::optional<float>> SpecArgs::Float(absl::string_view key,
                                                     absl::string_view what) {
  const int i = Find(key);
  if (i < 0) return std::optional<float>();
  const SpecToken& t = s_.args[static_cast<size_t>(i)];
  SIMDNET_ASSIGN_OR_RETURN(
      const float v, ParseSpecFloat(t, absl::string_view(t.text).substr(key.size()), what, err_));
  return std::optional<float>(v);
}

absl::StatusOr<std::optional<int64_t>> SpecArgs::Int(absl::string_view key, absl::string_view what,
                                                     int64_t min, int64_t max) {
  const int i = Find(key);
  if (i < 0) return std::optional<int64_t>();
  const SpecToken& t = s_.args[static_cast<size_t>(i)];
  SIMDNET_ASSIGN_OR_RETURN(
      const int64_t v,
      ParseSpecInt(t, absl::string_view(t.text).substr(key.size()), what, min, max, err_));
  return std::optional<int64_t>(v);
}

absl::StatusOr<int> SpecArgs::Choice(absl::string_view key,
                                     std::initializer_list<absl::string_view> choices) {
  const int i = Find(key);
  if (i < 0) return -1;
  const SpecToken& t = s_.args[static_cast<size_t>(i)];
  const absl::string_view value = absl::string_view(t.text).substr(key.size());
  int index = 0;
  for (absl::string_view c : choices) {
    if (value == c) return index;
    ++index;
  }
  return err_.At(t, absl::StrCat(key.substr(0, key.size() - 1), " must be one of ",
                                 absl::StrJoin(choices, "|"), ", got '",
                                 absl::CHexEscape(value.substr(0, 40)), "'"));
}

absl::StatusOr<std::optional<InitSpec>> SpecArgs::Init(absl::string_view key) {
  const int i = Find(key);
  if (i < 0) return std::optional<InitSpec>();
  const SpecToken& t = s_.args[static_cast<size_t>(i)];
  absl::StatusOr<InitSpec> spec = ParseInitSpec(absl::string_view(t.text).substr(key.size()));
  if (!spec.ok()) return err_.At(t, spec.status().message());
  return std::optional<InitSpec>(*spec);
}

const SpecToken* SpecArgs::Positional() {
  for (size_t i = 0; i < s_.args.size(); ++i) {
    if (!used_[i]) {
      used_[i] = true;
      return &s_.args[i];
    }
  }
  return nullptr;
}

absl::Status SpecArgs::Finish(absl::string_view expected) const {
  for (size_t i = 0; i < s_.args.size(); ++i) {
    if (!used_[i]) {
      return err_.At(s_.args[i], absl::StrCat("unknown or repeated option for '", s_.keyword.text,
                                              "' (expected ", expected, ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ReadSpecOutCount(LayerSpecContext& context, absl::string_view what) {
  const SpecToken* t = context.args.Positional();
  const std::string& keyword = context.statement.keyword.text;
  if (t == nullptr) {
    return context.Error(absl::StrCat("missing ", what, " (e.g. '", keyword,
                                      keyword == "linear" ? " classes'" : " 32'", ")"));
  }
  if (t->text == "classes") return context.num_classes;
  return ParseSpecInt(*t, t->text, what, 1, kSpecMaxSize, context.err);
}

// ---------------------------------------------------------------------------------------------
// The registry.

namespace {

struct Registry {
  std::map<std::string, LayerSpecEntry, std::less<>> entries;
  std::map<std::string, SpecPrinter, std::less<>> printers;
};

Registry& GetRegistry() {
  static Registry* registry = new Registry;  // never destroyed: used during static init
  return *registry;
}

[[noreturn]] void RegistrationFailed(absl::string_view what) {
  std::fprintf(stderr, "simdnet layer registry: %.*s\n", static_cast<int>(what.size()),
               what.data());
  std::abort();
}

}  // namespace

bool RegisterLayerSpec(LayerSpecEntry entry) {
  const std::string keyword = entry.keyword;
  bool valid = !keyword.empty();
  for (char c : keyword) {
    valid = valid && (absl::ascii_islower(static_cast<unsigned char>(c)) ||
                      absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '_');
  }
  if (!valid || keyword == "input" || keyword == "block") {
    RegistrationFailed(absl::StrCat("invalid or reserved keyword '", keyword, "'"));
  }
  if (!entry.factory) RegistrationFailed(absl::StrCat("'", keyword, "' has no factory"));
  if ((entry.body == SpecBody::kOneAndOptionalSecond) == entry.second_keyword.empty()) {
    RegistrationFailed(absl::StrCat("'", keyword,
                                    "': second_keyword goes with "
                                    "SpecBody::kOneAndOptionalSecond only"));
  }
  if (!GetRegistry().entries.emplace(keyword, std::move(entry)).second) {
    RegistrationFailed(absl::StrCat("keyword '", keyword, "' registered twice"));
  }
  return true;
}

const LayerSpecEntry* FindLayerSpec(absl::string_view keyword) {
  const auto& entries = GetRegistry().entries;
  const auto it = entries.find(keyword);
  return it == entries.end() ? nullptr : &it->second;
}

std::vector<std::string> LayerSpecKeywords() {
  std::vector<std::string> out;
  for (const auto& [keyword, entry] : GetRegistry().entries) out.push_back(keyword);
  return out;
}

bool IsSpecSecondKeyword(absl::string_view word) {
  for (const auto& [keyword, entry] : GetRegistry().entries) {
    if (!entry.second_keyword.empty() && entry.second_keyword == word) return true;
  }
  return false;
}

std::string SpecGrammarHelp() {
  std::string out =
      "input CxHxW | input F\n"
      "    per-sample input shape, e.g. \"input 1x28x28\" (first statement; optional when the\n"
      "    caller passes an input shape)\n"
      "block NAME { ... }\n"
      "    a named nested Sequential (PyTorch-style names: \"features.0.weight\"); NAME is\n"
      "    letters, digits, '_' or '-'\n";
  for (const auto& [keyword, entry] : GetRegistry().entries) {
    absl::StrAppend(&out, entry.usage, "\n");
  }
  return out;
}

bool RegisterSpecPrinter(absl::string_view type_name, SpecPrinter printer) {
  if (type_name.empty() || !printer) RegistrationFailed("empty printer registration");
  if (!GetRegistry().printers.emplace(std::string(type_name), std::move(printer)).second) {
    RegistrationFailed(absl::StrCat("printer for type '", type_name, "' registered twice"));
  }
  return true;
}

const SpecPrinter* FindSpecPrinter(absl::string_view type_name) {
  const auto& printers = GetRegistry().printers;
  const auto it = printers.find(type_name);
  return it == printers.end() ? nullptr : &it->second;
}

std::string FormatSpecFloat(float v) {
  for (int digits = 1; digits <= 9; ++digits) {
    const std::string text = absl::StrFormat("%.*g", digits, v);
    float back = 0.0f;
    if (absl::SimpleAtof(text, &back) && back == v) return text;
  }
  return absl::StrFormat("%.9g", v);
}

std::string FormatSpecPair(absl::string_view prefix, int64_t h, int64_t w) {
  if (h == w) return absl::StrCat(prefix, h);
  return absl::StrCat(prefix, h, "x", w);
}

void AppendInitWords(const InitSpec& weight_init, bool bias, const InitSpec& bias_init,
                     std::vector<std::string>* words) {
  const std::string default_init = FormatInitSpec(PyTorchDefaultInit());
  if (FormatInitSpec(weight_init) != default_init) {
    words->push_back(absl::StrCat("init=", FormatInitSpec(weight_init)));
  }
  if (bias && FormatInitSpec(bias_init) != default_init) {
    words->push_back(absl::StrCat("bias_init=", FormatInitSpec(bias_init)));
  }
}

std::string IndentSpec(absl::string_view text) {
  std::string out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty()) continue;
    absl::StrAppend(&out, "  ", line, "\n");
  }
  return out;
}

}  // namespace simdnet
