// Model spec parser (tokenizer -> statement tree -> shape-checked build) and the presets.
#include "layers/model_spec.h"

#include <array>
#include <cmath>
#include <fstream>
#include <initializer_list>
#include <map>
#include <optional>
#include <tuple>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "layers/activation.h"
#include "layers/batch_norm.h"
#include "layers/conv2d.h"
#include "layers/dropout.h"
#include "layers/flatten.h"
#include "layers/init.h"
#include "layers/linear.h"
#include "layers/log_softmax.h"
#include "layers/pooling.h"
#include "layers/residual.h"
#include "layers/sequential.h"
#include "tensor/rng.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

constexpr size_t kMaxSpecBytes = size_t{1} << 20;
constexpr int kMaxDepth = 16;
constexpr int64_t kMaxSize = 65536;        // channels, features, input dims
constexpr int64_t kMaxWindow = 4096;       // kernel, stride, pad, dilation
constexpr double kMaxParams = 64.0 * (1 << 20);
constexpr int64_t kMaxActivation = int64_t{64} << 20;

// ---------------------------------------------------------------------------------------------
// Tokens.

enum class TokenKind { kWord, kOpen, kClose, kSeparator, kEnd };

struct Token {
  TokenKind kind;
  std::string text;
  int line, column;
};

class SpecError {
 public:
  explicit SpecError(absl::string_view source) : source_(source) {}
  absl::Status At(const Token& t, absl::string_view why) const {
    std::string shown;
    switch (t.kind) {
      case TokenKind::kEnd:
        shown = "end of input";
        break;
      case TokenKind::kSeparator:
        shown = t.text == ";" ? "';'" : "end of line";
        break;
      default:
        shown = absl::StrCat("'", absl::CHexEscape(t.text.substr(0, 40)),
                             t.text.size() > 40 ? "...'" : "'");
    }
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ":", t.line, ":", t.column, ": ", shown, ": ", why));
  }
  absl::Status General(absl::string_view why) const {
    return absl::InvalidArgumentError(absl::StrCat(source_, ": ", why));
  }

 private:
  std::string source_;
};

// Splits text into words, braces and separators (';' and line ends); drops comments, spaces,
// tabs and '\r'. Any other control or non-ASCII byte is an error (it is never valid here).
absl::StatusOr<std::vector<Token>> Tokenize(absl::string_view text, const SpecError& err) {
  std::vector<Token> tokens;
  int line = 1, column = 1;
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    const int start_column = column;
    if (c == '\n') {
      tokens.push_back({TokenKind::kSeparator, "\n", line, column});
      ++line;
      column = 1;
      ++i;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r') {
      ++i;
      ++column;
      continue;
    }
    if (c == '#') {
      while (i < text.size() && text[i] != '\n') ++i;
      continue;
    }
    if (c == '{' || c == '}' || c == ';') {
      tokens.push_back({c == '{'   ? TokenKind::kOpen
                        : c == '}' ? TokenKind::kClose
                                   : TokenKind::kSeparator,
                        std::string(1, c), line, column});
      ++i;
      ++column;
      continue;
    }
    const unsigned char uc = static_cast<unsigned char>(c);
    if (uc < 0x20 || uc >= 0x7f) {
      return err.At({TokenKind::kWord, std::string(1, c), line, column},
                    "unexpected character (specs are plain ASCII text)");
    }
    size_t j = i;
    while (j < text.size()) {
      const unsigned char d = static_cast<unsigned char>(text[j]);
      if (d <= 0x20 || d >= 0x7f || d == '{' || d == '}' || d == ';' || d == '#') break;
      ++j;
    }
    tokens.push_back({TokenKind::kWord, std::string(text.substr(i, j - i)), line, start_column});
    column += static_cast<int>(j - i);
    i = j;
  }
  tokens.push_back({TokenKind::kEnd, "", line, column});
  return tokens;
}

// ---------------------------------------------------------------------------------------------
// Statement tree.

struct Statement {
  Token keyword;
  std::vector<Token> args;
  std::vector<Statement> body;      // block / residual main branch
  bool has_shortcut = false;
  Token shortcut_keyword;
  std::vector<Statement> shortcut;  // residual projection branch
};

class Parser {
 public:
  Parser(std::vector<Token> tokens, const SpecError& err)
      : tokens_(std::move(tokens)), err_(err) {}

  absl::StatusOr<std::vector<Statement>> ParseAll() {
    SIMDNET_ASSIGN_OR_RETURN(std::vector<Statement> list, ParseList(0, nullptr));
    return list;
  }

 private:
  const Token& Peek() const { return tokens_[pos_]; }
  const Token& Next() { return tokens_[pos_++]; }
  void SkipSeparators() {
    while (Peek().kind == TokenKind::kSeparator) ++pos_;
  }

  // Parses statements until '}' (consumed; required iff opener != null) or the end.
  absl::StatusOr<std::vector<Statement>> ParseList(int depth, const Token* opener) {
    if (depth > kMaxDepth) {
      return err_.At(*opener, absl::StrCat("blocks nested deeper than ", kMaxDepth));
    }
    std::vector<Statement> out;
    while (true) {
      SkipSeparators();
      const Token& t = Peek();
      if (t.kind == TokenKind::kEnd) {
        if (opener != nullptr) {
          return err_.At(*opener, absl::StrCat("missing '}' for the '{' opened at line ",
                                               opener->line, ", column ", opener->column));
        }
        return out;
      }
      if (t.kind == TokenKind::kClose) {
        if (opener == nullptr) return err_.At(t, "unbalanced '}' (no block is open)");
        ++pos_;
        return out;
      }
      if (t.kind == TokenKind::kOpen) {
        return err_.At(t, "'{' must follow 'block NAME' or 'residual'/'shortcut'");
      }
      SIMDNET_ASSIGN_OR_RETURN(Statement s, ParseStatement(depth));
      out.push_back(std::move(s));
    }
  }

  absl::StatusOr<Statement> ParseStatement(int depth) {
    Statement s;
    s.keyword = Next();
    if (s.keyword.text == "shortcut") {
      return err_.At(s.keyword, "'shortcut { ... }' must directly follow 'residual { ... }'");
    }
    while (Peek().kind == TokenKind::kWord) s.args.push_back(Next());
    const bool takes_body = s.keyword.text == "block" || s.keyword.text == "residual";
    if (!takes_body) {
      if (Peek().kind == TokenKind::kOpen) {
        return err_.At(Peek(), absl::StrCat("'", s.keyword.text,
                                            "' takes no '{' body (only block and residual do)"));
      }
      return s;
    }
    if (Peek().kind != TokenKind::kOpen) {
      return err_.At(Peek(), absl::StrCat("expected '{' after '", s.keyword.text,
                                          s.keyword.text == "block" ? " NAME" : "", "'"));
    }
    const Token open = Next();
    SIMDNET_ASSIGN_OR_RETURN(s.body, ParseList(depth + 1, &open));
    if (s.keyword.text == "residual") {
      // "shortcut { ... }" may follow on the same or a following line.
      size_t look = pos_;
      while (tokens_[look].kind == TokenKind::kSeparator) ++look;
      if (tokens_[look].kind == TokenKind::kWord && tokens_[look].text == "shortcut") {
        pos_ = look;
        s.has_shortcut = true;
        s.shortcut_keyword = Next();
        if (Peek().kind != TokenKind::kOpen) {
          return err_.At(Peek(), "expected '{' after 'shortcut'");
        }
        const Token sopen = Next();
        SIMDNET_ASSIGN_OR_RETURN(s.shortcut, ParseList(depth + 1, &sopen));
      }
    }
    return s;
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  const SpecError& err_;
};

// ---------------------------------------------------------------------------------------------
// Argument helpers.

absl::StatusOr<int64_t> ParseInt(const Token& t, absl::string_view digits, absl::string_view what,
                                 int64_t min, int64_t max, const SpecError& err) {
  int64_t v = 0;
  if (digits.empty() || !absl::SimpleAtoi(digits, &v)) {
    return err.At(t, absl::StrCat(what, " '", absl::CHexEscape(digits.substr(0, 40)),
                                  "' is not an integer", digits.size() > 18 ? " (or too large)" : ""));
  }
  if (v < 0 && min >= 0) return err.At(t, absl::StrCat(what, " ", v, " is negative"));
  if (v < min) return err.At(t, absl::StrCat(what, " ", v, " must be at least ", min));
  if (v > max) return err.At(t, absl::StrCat(what, " ", v, " is too large (max ", max, ")"));
  return v;
}

absl::StatusOr<float> ParseFloat(const Token& t, absl::string_view text, absl::string_view what,
                                 const SpecError& err) {
  float v = 0.0f;
  if (!absl::SimpleAtof(text, &v) || !std::isfinite(v)) {
    return err.At(t, absl::StrCat(what, " '", absl::CHexEscape(text.substr(0, 40)),
                                  "' is not a finite number"));
  }
  return v;
}

// Parses "N" or "HxW" into (h, w).
absl::StatusOr<std::pair<int64_t, int64_t>> ParsePair(const Token& t, absl::string_view text,
                                                      absl::string_view what, int64_t min,
                                                      const SpecError& err) {
  const std::vector<absl::string_view> parts = absl::StrSplit(text, 'x');
  if (parts.size() > 2) return err.At(t, absl::StrCat(what, " must be N or HxW"));
  SIMDNET_ASSIGN_OR_RETURN(const int64_t h, ParseInt(t, parts[0], what, min, kMaxWindow, err));
  int64_t w = h;
  if (parts.size() == 2) {
    SIMDNET_ASSIGN_OR_RETURN(w, ParseInt(t, parts[1], what, min, kMaxWindow, err));
  }
  return std::make_pair(h, w);
}

// Parses the token "pad=T,L,B,R" (conv and pooling) into {top, left, bottom, right}.
absl::StatusOr<std::array<int64_t, 4>> ParseFourPads(const Token& t, const SpecError& err) {
  const std::vector<absl::string_view> parts =
      absl::StrSplit(absl::string_view(t.text).substr(4), ',');
  if (parts.size() != 4) {
    return err.At(t, "pad= takes four pads T,L,B,R (top, left, bottom, right)");
  }
  std::array<int64_t, 4> v{};
  for (size_t i = 0; i < 4; ++i) {
    SIMDNET_ASSIGN_OR_RETURN(v[i], ParseInt(t, parts[i], "pad", 0, kMaxWindow, err));
  }
  return v;
}

// Options of one statement: single-letter-prefixed sizes (k3), flags (nobias) and key=value.
class Args {
 public:
  Args(const Statement& s, const SpecError& err) : s_(s), err_(err) {}

  // Returns whether an unused argument equals `flag` (e.g. "nobias"), marking it used.
  bool Flag(absl::string_view flag) {
    for (size_t i = 0; i < s_.args.size(); ++i) {
      if (s_.args[i].text == flag) return Use(i);
    }
    return false;
  }
  // Finds the first unused "<prefix><value>" (e.g. "k3", "eps=1e-3"), marks it used and
  // returns its index, or -1.
  int Find(absl::string_view prefix) {
    for (size_t i = 0; i < s_.args.size(); ++i) {
      const std::string& text = s_.args[i].text;
      if (used_[i] || !absl::StartsWith(text, prefix) || text.size() == prefix.size()) continue;
      const char next = text[prefix.size()];
      // A size prefix must be followed by a digit or sign ("k3", "p-1"), so words such as
      // "pad" are reported as unknown options instead.
      if (prefix.size() == 1 && !(absl::ascii_isdigit(static_cast<unsigned char>(next)) ||
                                  next == '-' || next == '+')) {
        continue;
      }
      Use(i);
      return static_cast<int>(i);
    }
    return -1;
  }
  absl::StatusOr<std::optional<std::pair<int64_t, int64_t>>> Pair(absl::string_view prefix,
                                                                 absl::string_view what,
                                                                 int64_t min) {
    const int i = Find(prefix);
    if (i < 0) return std::optional<std::pair<int64_t, int64_t>>();
    const Token& t = s_.args[static_cast<size_t>(i)];
    SIMDNET_ASSIGN_OR_RETURN(auto p, ParsePair(t, absl::string_view(t.text).substr(prefix.size()),
                                               what, min, err_));
    return std::optional<std::pair<int64_t, int64_t>>(p);
  }
  absl::StatusOr<std::optional<float>> Float(absl::string_view key, absl::string_view what) {
    const int i = Find(key);
    if (i < 0) return std::optional<float>();
    const Token& t = s_.args[static_cast<size_t>(i)];
    SIMDNET_ASSIGN_OR_RETURN(const float v,
                             ParseFloat(t, absl::string_view(t.text).substr(key.size()), what,
                                        err_));
    return std::optional<float>(v);
  }
  // Returns the index in `choices` of the value of an unused "<key><value>" argument, or -1
  // when there is none; an error naming the key and the choices for any other value.
  absl::StatusOr<int> Choice(absl::string_view key,
                             std::initializer_list<absl::string_view> choices) {
    const int i = Find(key);
    if (i < 0) return -1;
    const Token& t = s_.args[static_cast<size_t>(i)];
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
  absl::StatusOr<std::optional<InitSpec>> Init(absl::string_view key) {
    const int i = Find(key);
    if (i < 0) return std::optional<InitSpec>();
    const Token& t = s_.args[static_cast<size_t>(i)];
    absl::StatusOr<InitSpec> spec = ParseInitSpec(absl::string_view(t.text).substr(key.size()));
    if (!spec.ok()) return err_.At(t, spec.status().message());
    return std::optional<InitSpec>(*spec);
  }
  // Returns the first unused positional argument (no marking if absent).
  const Token* Positional() {
    for (size_t i = 0; i < s_.args.size(); ++i) {
      if (!used_[i]) {
        Use(i);
        return &s_.args[i];
      }
    }
    return nullptr;
  }
  // Fails on the first argument nobody used.
  absl::Status Finish(absl::string_view expected) {
    for (size_t i = 0; i < s_.args.size(); ++i) {
      if (!used_[i]) {
        return err_.At(s_.args[i], absl::StrCat("unknown or repeated option for '",
                                                s_.keyword.text, "' (expected ", expected, ")"));
      }
    }
    return absl::OkStatus();
  }

 private:
  bool Use(size_t i) {
    if (used_[i]) return false;
    used_[i] = true;
    return true;
  }

  const Statement& s_;
  const SpecError& err_;
  std::vector<bool> used_ = std::vector<bool>(s_.args.size(), false);
};

// ---------------------------------------------------------------------------------------------
// Builder.

class Builder {
 public:
  Builder(int64_t num_classes, uint64_t seed, const SpecError& err)
      : num_classes_(num_classes), rng_(seed), err_(err) {}

  absl::Status BuildList(const std::vector<Statement>& list, Sequential* seq) {
    for (const Statement& s : list) {
      const std::string& kw = s.keyword.text;
      if (kw == "input") {
        return err_.At(s.keyword, "'input' must be the first statement of the spec");
      }
      if (kw == "block") {
        if (s.args.size() != 1) {
          return err_.At(s.args.empty() ? s.keyword : s.args[1],
                         "'block' takes exactly one NAME before '{'");
        }
        const std::string& name = s.args[0].text;
        for (char c : name) {
          if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) {
            return err_.At(s.args[0], "block names use letters, digits, '_' or '-'");
          }
        }
        SIMDNET_ASSIGN_OR_RETURN(std::unique_ptr<Sequential> inner,
                                 Sequential::Create(seq->OutputShape()));
        SIMDNET_RETURN_IF_ERROR(BuildList(s.body, inner.get()));
        absl::Status added = seq->Add(std::move(inner), name);
        if (!added.ok()) return err_.At(s.args[0], added.message());
        continue;
      }
      SIMDNET_ASSIGN_OR_RETURN(std::unique_ptr<Layer> layer, BuildLayer(s, seq->OutputShape()));
      if (layer->OutputShape().size() > kMaxActivation) {
        return err_.At(s.keyword, absl::StrCat("output shape ", layer->OutputShape().ToString(),
                                               " exceeds ", kMaxActivation,
                                               " elements per sample"));
      }
      params_ += static_cast<double>(layer->NumParams());
      absl::Status added = seq->Add(std::move(layer));
      if (!added.ok()) return err_.At(s.keyword, added.message());
    }
    return absl::OkStatus();
  }

 private:
  // Returns `status` re-anchored at token t (factory errors name the layer and field already).
  absl::Status Wrap(const Token& t, const absl::Status& status) const {
    return err_.At(t, status.message());
  }

  template <typename L>
  absl::StatusOr<std::unique_ptr<Layer>> Wrapped(const Token& t,
                                                 absl::StatusOr<std::unique_ptr<L>> layer) {
    if (!layer.ok()) return Wrap(t, layer.status());
    return std::unique_ptr<Layer>(std::move(layer).value());
  }

  // Returns an error at t unless name is non-empty letters, digits, '_' or '-' (maxpool name=).
  absl::Status CheckName(const Token& t, const std::string& name) const {
    bool ok = !name.empty();
    for (char c : name) {
      ok = ok && (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-');
    }
    if (!ok) return err_.At(t, "maxpool names use letters, digits, '_' or '-'");
    return absl::OkStatus();
  }

  absl::Status CheckParamBudget(const Token& t, double add) const {
    if (params_ + add > kMaxParams) {
      return err_.At(t, absl::StrCat("the model would exceed ", static_cast<int64_t>(kMaxParams),
                                     " parameters"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<Layer>> BuildLayer(const Statement& s, const Shape& in) {
    const std::string& kw = s.keyword.text;
    Args args(s, err_);
    if (kw == "conv") return BuildConv(s, in, args);
    if (kw == "linear") return BuildLinear(s, in, args);
    if (kw == "bn") {
      BatchNormOptions o;
      SIMDNET_ASSIGN_OR_RETURN(auto eps, args.Float("eps=", "eps"));
      SIMDNET_ASSIGN_OR_RETURN(auto momentum, args.Float("momentum=", "momentum"));
      if (eps) o.eps = *eps;
      if (momentum) o.momentum = *momentum;
      SIMDNET_ASSIGN_OR_RETURN(auto convention,
                               args.Choice("momentum_convention=", {"pytorch", "onnx"}));
      if (convention == 1) o.momentum_convention = BatchNormMomentum::kOnnx;
      SIMDNET_ASSIGN_OR_RETURN(auto var, args.Choice("var=", {"unbiased", "biased"}));
      if (var == 1) o.running_var = BatchNormRunningVar::kBiased;
      o.affine = !args.Flag("noaffine");
      SIMDNET_RETURN_IF_ERROR(args.Finish(
          "eps=E, momentum=M, momentum_convention=pytorch|onnx, var=unbiased|biased, noaffine"));
      if (in.rank() == 3) return Wrapped(s.keyword, BatchNorm2d::Create(o, in));
      if (in.rank() == 1) return Wrapped(s.keyword, BatchNorm1d::Create(o, in));
      return err_.At(s.keyword, absl::StrCat("bn needs an input of shape (C, H, W) or (F), got ",
                                             in.ToString()));
    }
    if (kw == "relu" || kw == "tanh" || kw == "sigmoid" || kw == "lrelu" ||
        kw == "leaky_relu") {
      ActivationOptions o;
      o.kind = *ParseActivationKind(kw);
      if (o.kind == ActivationKind::kLeakyRelu) {
        if (const Token* t = args.Positional()) {
          SIMDNET_ASSIGN_OR_RETURN(o.negative_slope, ParseFloat(*t, t->text, "slope", err_));
        }
      }
      SIMDNET_RETURN_IF_ERROR(args.Finish(o.kind == ActivationKind::kLeakyRelu
                                              ? "an optional negative slope"
                                              : "no options"));
      return Wrapped(s.keyword, Activation::Create(o, in));
    }
    if (kw == "maxpool" || kw == "avgpool") {
      Pool2dOptions o;
      o.kind = kw == "maxpool" ? PoolKind::kMax : PoolKind::kAvg;
      SIMDNET_ASSIGN_OR_RETURN(auto k, args.Pair("k", "kernel size", 1));
      SIMDNET_ASSIGN_OR_RETURN(auto st, args.Pair("s", "stride", 1));
      SIMDNET_ASSIGN_OR_RETURN(auto p, args.Pair("p", "padding", 0));
      SIMDNET_ASSIGN_OR_RETURN(auto d, args.Pair("d", "dilation", 1));
      if (o.kind == PoolKind::kAvg) o.count_include_pad = !args.Flag("exclude_pad");
      o.ceil_mode = args.Flag("ceil");
      // Dilation on avgpool and divisor= on maxpool parse here so Pool2d::Create can reject
      // them with a message naming the option.
      const int divisor_i = args.Find("divisor=");
      if (divisor_i >= 0) {
        const Token& t = s.args[static_cast<size_t>(divisor_i)];
        SIMDNET_ASSIGN_OR_RETURN(o.divisor_override,
                                 ParseInt(t, absl::string_view(t.text).substr(8), "divisor", 1,
                                          kMaxWindow, err_));
      }
      const int pads_i = args.Find("pad=");
      const bool same_upper = args.Flag("same"), same_lower = args.Flag("same_lower");
      const int name_i = o.kind == PoolKind::kMax ? args.Find("name=") : -1;
      SIMDNET_RETURN_IF_ERROR(
          args.Finish(o.kind == PoolKind::kMax
                          ? "kK, sS, pP, dD, ceil, pad=T,L,B,R, same, same_lower, name=NAME"
                          : "kK, sS, pP, exclude_pad, ceil, divisor=N, pad=T,L,B,R, same, "
                            "same_lower"));
      if (!k) return err_.At(s.keyword, absl::StrCat("'", kw, "' needs a kernel size, e.g. k2"));
      std::tie(o.kernel_h, o.kernel_w) = *k;
      if (st) std::tie(o.stride_h, o.stride_w) = *st;
      if (p) std::tie(o.pad_h, o.pad_w) = *p;
      if (d) std::tie(o.dilation_h, o.dilation_w) = *d;
      if (static_cast<int>(p.has_value()) + static_cast<int>(pads_i >= 0) +
              static_cast<int>(same_upper) + static_cast<int>(same_lower) >
          1) {
        return err_.At(s.keyword, absl::StrCat("'", kw, "' takes one of pP, pad=T,L,B,R, same "
                                                        "and same_lower"));
      }
      if (same_upper) o.auto_pad = PoolAutoPad::kSameUpper;
      if (same_lower) o.auto_pad = PoolAutoPad::kSameLower;
      if (pads_i >= 0) {
        SIMDNET_ASSIGN_OR_RETURN(const auto v,
                                 ParseFourPads(s.args[static_cast<size_t>(pads_i)], err_));
        o.pad_h = v[0];
        o.pad_w = v[1];
        o.pad_bottom = v[2];
        o.pad_right = v[3];
      }
      if (name_i < 0) return Wrapped(s.keyword, Pool2d::Create(o, in));
      const Token& name_token = s.args[static_cast<size_t>(name_i)];
      const std::string name = name_token.text.substr(5);
      SIMDNET_RETURN_IF_ERROR(CheckName(name_token, name));
      if (named_pools_.count(name) != 0) {
        return err_.At(name_token, absl::StrCat("a maxpool is already named '", name, "'"));
      }
      absl::StatusOr<std::unique_ptr<Pool2d>> pool = Pool2d::Create(o, in);
      if (!pool.ok()) return Wrap(s.keyword, pool.status());
      named_pools_[name] = pool->get();
      return std::unique_ptr<Layer>(std::move(pool).value());
    }
    if (kw == "maxunpool") {
      const Token* t = args.Positional();
      SIMDNET_RETURN_IF_ERROR(args.Finish("the NAME of an earlier 'maxpool ... name=NAME'"));
      if (t == nullptr) {
        return err_.At(s.keyword, "'maxunpool' needs the NAME of an earlier "
                                  "'maxpool ... name=NAME'");
      }
      const auto it = named_pools_.find(t->text);
      if (it == named_pools_.end()) {
        return err_.At(*t, "no earlier 'maxpool ... name=" + t->text.substr(0, 40) + "'");
      }
      return Wrapped(s.keyword, MaxUnpool2d::Create(it->second, in));
    }
    if (kw == "gap") {
      SIMDNET_RETURN_IF_ERROR(args.Finish("no options"));
      return Wrapped(s.keyword, GlobalAvgPool2d::Create(in));
    }
    if (kw == "flatten") {
      SIMDNET_RETURN_IF_ERROR(args.Finish("no options"));
      return Wrapped(s.keyword, Flatten::Create(in));
    }
    if (kw == "log_softmax") {
      SIMDNET_RETURN_IF_ERROR(args.Finish("no options"));
      return Wrapped(s.keyword, LogSoftmax::Create(in));
    }
    if (kw == "dropout") {
      DropoutOptions o;
      if (const Token* t = args.Positional()) {
        SIMDNET_ASSIGN_OR_RETURN(o.drop_rate, ParseFloat(*t, t->text, "drop rate", err_));
      }
      SIMDNET_RETURN_IF_ERROR(args.Finish("an optional drop rate"));
      return Wrapped(s.keyword, Dropout::Create(o, in, rng_));
    }
    if (kw == "residual") {
      if (!s.args.empty()) return err_.At(s.args[0], "'residual' takes no options before '{'");
      SIMDNET_ASSIGN_OR_RETURN(std::unique_ptr<Sequential> main, Sequential::Create(in));
      SIMDNET_RETURN_IF_ERROR(BuildList(s.body, main.get()));
      std::unique_ptr<Sequential> shortcut;
      if (s.has_shortcut) {
        SIMDNET_ASSIGN_OR_RETURN(shortcut, Sequential::Create(in));
        SIMDNET_RETURN_IF_ERROR(BuildList(s.shortcut, shortcut.get()));
      }
      return Wrapped(s.keyword, Residual::Create(std::move(main), std::move(shortcut)));
    }
    return err_.At(s.keyword,
                   "unknown layer (expected conv, linear, bn, relu, lrelu, tanh, sigmoid, "
                   "maxpool, avgpool, maxunpool, gap, flatten, log_softmax, dropout, block, "
                   "residual)");
  }

  absl::StatusOr<int64_t> OutCount(const Statement& s, Args& args, absl::string_view what) {
    const Token* t = args.Positional();
    if (t == nullptr) {
      return err_.At(s.keyword, absl::StrCat("missing ", what, " (e.g. '", s.keyword.text,
                                             s.keyword.text == "linear" ? " classes'" : " 32'",
                                             ")"));
    }
    if (t->text == "classes") return num_classes_;
    return ParseInt(*t, t->text, what, 1, kMaxSize, err_);
  }

  absl::StatusOr<std::unique_ptr<Layer>> BuildConv(const Statement& s, const Shape& in,
                                                   Args& args) {
    Conv2dOptions o;
    SIMDNET_ASSIGN_OR_RETURN(auto k, args.Pair("k", "kernel size", 1));
    SIMDNET_ASSIGN_OR_RETURN(auto st, args.Pair("s", "stride", 1));
    SIMDNET_ASSIGN_OR_RETURN(auto p, args.Pair("p", "padding", 0));
    // The padding forms of maxpool / avgpool: pad=T,L,B,R, same, same_lower.
    const int pads_i = args.Find("pad=");
    const bool same_upper = args.Flag("same"), same_lower = args.Flag("same_lower");
    SIMDNET_ASSIGN_OR_RETURN(auto d, args.Pair("d", "dilation", 1));
    SIMDNET_ASSIGN_OR_RETURN(auto g, args.Pair("g", "groups", 1));
    o.bias = !args.Flag("nobias");
    SIMDNET_ASSIGN_OR_RETURN(auto winit, args.Init("init="));
    SIMDNET_ASSIGN_OR_RETURN(auto binit, args.Init("bias_init="));
    SIMDNET_ASSIGN_OR_RETURN(o.out_channels, OutCount(s, args, "output channel count"));
    SIMDNET_RETURN_IF_ERROR(
        args.Finish("OUT kK sS pP pad=T,L,B,R same same_lower dD gG nobias init=SPEC "
                    "bias_init=SPEC"));
    if (!k) return err_.At(s.keyword, "'conv' needs a kernel size, e.g. k3");
    std::tie(o.kernel_h, o.kernel_w) = *k;
    if (st) std::tie(o.stride_h, o.stride_w) = *st;
    if (p) std::tie(o.pad_h, o.pad_w) = *p;
    if (static_cast<int>(p.has_value()) + static_cast<int>(pads_i >= 0) +
            static_cast<int>(same_upper) + static_cast<int>(same_lower) >
        1) {
      return err_.At(s.keyword, "'conv' takes one of pP, pad=T,L,B,R, same and same_lower");
    }
    if (same_upper) o.padding = Conv2dPadding::kSameUpper;
    if (same_lower) o.padding = Conv2dPadding::kSameLower;
    if (pads_i >= 0) {
      SIMDNET_ASSIGN_OR_RETURN(const auto v,
                               ParseFourPads(s.args[static_cast<size_t>(pads_i)], err_));
      o.pads = Conv2dPads{v[0], v[1], v[2], v[3]};
    }
    if (d) std::tie(o.dilation_h, o.dilation_w) = *d;
    if (g) {
      if (g->first != g->second) return err_.At(s.keyword, "groups is a single number");
      o.groups = g->first;
    }
    if (winit) o.weight_init = *winit;
    if (binit) o.bias_init = *binit;
    const double in_channels = in.rank() == 3 ? static_cast<double>(in.dim(0)) : 1.0;
    SIMDNET_RETURN_IF_ERROR(CheckParamBudget(
        s.keyword, static_cast<double>(o.out_channels) * in_channels /
                       static_cast<double>(o.groups) * static_cast<double>(o.kernel_h) *
                       static_cast<double>(o.kernel_w)));
    return Wrapped(s.keyword, Conv2d::Create(o, in, rng_));
  }

  absl::StatusOr<std::unique_ptr<Layer>> BuildLinear(const Statement& s, const Shape& in,
                                                     Args& args) {
    LinearOptions o;
    o.bias = !args.Flag("nobias");
    SIMDNET_ASSIGN_OR_RETURN(auto winit, args.Init("init="));
    SIMDNET_ASSIGN_OR_RETURN(auto binit, args.Init("bias_init="));
    SIMDNET_ASSIGN_OR_RETURN(o.out_features, OutCount(s, args, "output feature count"));
    SIMDNET_RETURN_IF_ERROR(args.Finish("OUT|classes nobias init=SPEC bias_init=SPEC"));
    if (winit) o.weight_init = *winit;
    if (binit) o.bias_init = *binit;
    if (in.rank() != 1) {
      return err_.At(s.keyword,
                     absl::StrCat("'linear' needs a flat input (F), got ", in.ToString(),
                                  "; add 'flatten' or 'gap' before it"));
    }
    SIMDNET_RETURN_IF_ERROR(CheckParamBudget(
        s.keyword, static_cast<double>(o.out_features) * static_cast<double>(in.dim(0))));
    return Wrapped(s.keyword, Linear::Create(o, in, rng_));
  }

  int64_t num_classes_;
  Rng rng_;
  const SpecError& err_;
  double params_ = 0.0;
  // Max pooling layers named by "name=" for a later "maxunpool NAME" (owned by the model).
  std::map<std::string, const Pool2d*> named_pools_;
};

// Parses "1x28x28" / "784" into a per-sample shape.
absl::StatusOr<Shape> ParseInputShape(const Statement& s, const SpecError& err) {
  if (s.args.size() != 1) {
    return err.At(s.args.empty() ? s.keyword : s.args[1],
                  "'input' takes one shape, e.g. 'input 1x28x28' or 'input 784'");
  }
  const Token& t = s.args[0];
  const std::vector<absl::string_view> parts = absl::StrSplit(t.text, 'x');
  if (parts.size() > 3) return err.At(t, "input shapes have 1 to 3 dims (CxHxW or F)");
  std::vector<int64_t> dims;
  int64_t total = 1;
  for (absl::string_view p : parts) {
    SIMDNET_ASSIGN_OR_RETURN(const int64_t v, ParseInt(t, p, "input dim", 1, kMaxSize, err));
    dims.push_back(v);
    total *= v;
    if (total > kMaxActivation) {
      return err.At(t, absl::StrCat("input has more than ", kMaxActivation, " elements"));
    }
  }
  return Shape(absl::Span<const int64_t>(dims));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Model>> ModelFromSpec(absl::string_view spec,
                                                     const std::optional<Shape>& input_shape,
                                                     int64_t num_classes, uint64_t seed,
                                                     absl::string_view source) {
  const SpecError err(source);
  if (spec.size() > kMaxSpecBytes) {
    return err.General(absl::StrCat("spec is ", spec.size(), " bytes; the limit is ",
                                    kMaxSpecBytes));
  }
  if (num_classes < 1 || num_classes > kMaxSize) {
    return err.General(absl::StrCat("num_classes must be in [1, ", kMaxSize, "], got ",
                                    num_classes));
  }
  SIMDNET_ASSIGN_OR_RETURN(std::vector<Token> tokens, Tokenize(spec, err));
  Parser parser(std::move(tokens), err);
  SIMDNET_ASSIGN_OR_RETURN(std::vector<Statement> statements, parser.ParseAll());
  std::optional<Shape> in = input_shape;
  size_t first = 0;
  if (!statements.empty() && statements[0].keyword.text == "input") {
    SIMDNET_ASSIGN_OR_RETURN(const Shape declared, ParseInputShape(statements[0], err));
    if (!in.has_value()) in = declared;
    first = 1;
  }
  if (!in.has_value()) {
    return err.General("no input shape: start the spec with e.g. 'input 1x28x28' or pass one");
  }
  if (statements.size() == first) {
    return err.General("the spec defines no layers");
  }
  absl::StatusOr<std::unique_ptr<Sequential>> root = Sequential::Create(*in);
  if (!root.ok()) return err.General(root.status().message());
  Builder builder(num_classes, seed, err);
  SIMDNET_RETURN_IF_ERROR(builder.BuildList(
      std::vector<Statement>(statements.begin() + static_cast<ptrdiff_t>(first),
                             statements.end()),
      root->get()));
  const Shape out = (*root)->OutputShape();
  if (out != Shape({num_classes})) {
    return err.General(absl::StrCat("the network's output shape ", out.ToString(),
                                    " does not match num_classes ", num_classes,
                                    " (end the spec with e.g. 'linear classes')"));
  }
  return Model::Create(std::move(root).value(), num_classes);
}

// ---------------------------------------------------------------------------------------------
// Presets.

namespace {

// LeNet-5 (LeCun et al., Proc. IEEE 1998) as usually re-implemented today: ReLU and max
// pooling instead of scaled tanh and subsampling; 28x28 input padded by 2 as the original 32x32.
constexpr char kLeNet5[] = R"(# LeNet-5 (LeCun et al. 1998) with ReLU and max pooling
input 1x28x28
block features {
  conv 6 k5 p2; relu; maxpool k2
  conv 16 k5; relu; maxpool k2
}
block classifier {
  flatten
  linear 120; relu
  linear 84; relu
  linear classes
}
)";

// A small VGG-style network (Simonyan & Zisserman 2015): two conv-BN-ReLU pairs per stage,
// sized to train on Fashion-MNIST in minutes on two cores. Convs before BN have no bias (BN's
// shift makes it redundant), as torchvision's VGG-BN.
constexpr char kVggSmall[] = R"(# VGG-style: (conv-bn-relu) x2, pool, (conv-bn-relu) x2, pool, MLP head
input 1x28x28
block features {
  conv 32 k3 p1 nobias; bn; relu
  conv 32 k3 p1 nobias; bn; relu
  maxpool k2
  conv 64 k3 p1 nobias; bn; relu
  conv 64 k3 p1 nobias; bn; relu
  maxpool k2
}
block classifier {
  flatten
  linear 128; relu
  dropout 0.5
  linear classes
}
)";

// A CIFAR-style ResNet (He et al., CVPR 2016, section 4.2) with one basic block per stage
// (ResNet-8): 16, 32, 64 channels, stride-2 stages with 1x1 projection shortcuts (option B).
constexpr char kResNetSmall[] = R"(# CIFAR-style ResNet-8: 3 stages of one basic block
input 3x32x32
block stem { conv 16 k3 p1 nobias; bn; relu }
block stage1 {
  residual { conv 16 k3 p1 nobias; bn; relu; conv 16 k3 p1 nobias; bn }
  relu
}
block stage2 {
  residual { conv 32 k3 s2 p1 nobias; bn; relu; conv 32 k3 p1 nobias; bn }
  shortcut { conv 32 k1 s2 nobias; bn }
  relu
}
block stage3 {
  residual { conv 64 k3 s2 p1 nobias; bn; relu; conv 64 k3 p1 nobias; bn }
  shortcut { conv 64 k1 s2 nobias; bn }
  relu
}
block head { gap; linear classes }
)";

const std::map<std::string, const char*>& Presets() {
  static const auto* presets = new std::map<std::string, const char*>{
      {"lenet5", kLeNet5}, {"vgg-small", kVggSmall}, {"resnet-small", kResNetSmall}};
  return *presets;
}

}  // namespace

std::vector<std::string> PresetNames() {
  std::vector<std::string> names;
  for (const auto& [name, text] : Presets()) names.push_back(name);
  return names;
}

absl::StatusOr<std::string> PresetSpec(absl::string_view name) {
  auto it = Presets().find(std::string(name));
  if (it == Presets().end()) {
    return absl::NotFoundError(absl::StrCat("no preset named '", name, "' (presets: ",
                                            absl::StrJoin(PresetNames(), ", "), ")"));
  }
  return std::string(it->second);
}

absl::StatusOr<std::string> LoadModelSpecText(absl::string_view name_or_path) {
  absl::StatusOr<std::string> preset = PresetSpec(name_or_path);
  if (preset.ok()) return preset;
  const std::string path(name_or_path);
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return absl::NotFoundError(absl::StrCat("model spec '", path,
                                            "' is neither a preset (", 
                                            absl::StrJoin(PresetNames(), ", "),
                                            ") nor a readable file"));
  }
  std::string text;
  char buffer[4096];
  while (file.read(buffer, sizeof(buffer)) || file.gcount() > 0) {
    text.append(buffer, static_cast<size_t>(file.gcount()));
    if (text.size() > kMaxSpecBytes) {
      return absl::InvalidArgumentError(absl::StrCat("model spec file '", path,
                                                     "' is larger than ", kMaxSpecBytes,
                                                     " bytes"));
    }
  }
  if (file.bad()) {
    return absl::DataLossError(absl::StrCat("error reading model spec file '", path, "'"));
  }
  return text;
}

absl::StatusOr<std::unique_ptr<Model>> LoadModel(absl::string_view name_or_path,
                                                 const std::optional<Shape>& input_shape,
                                                 int64_t num_classes, uint64_t seed) {
  SIMDNET_ASSIGN_OR_RETURN(const std::string text, LoadModelSpecText(name_or_path));
  const bool is_preset = PresetSpec(name_or_path).ok();
  return ModelFromSpec(text, input_shape, num_classes, seed,
                       is_preset ? absl::StrCat("preset ", name_or_path)
                                 : std::string(name_or_path));
}

}  // namespace simdnet
