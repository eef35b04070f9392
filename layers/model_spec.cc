// Model spec parser: tokenizer -> statement tree -> shape-checked build, with every layer
// keyword dispatched through the layer registry (layers/layer_registry.h).
#include "layers/model_spec.h"

#include <cstddef>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "layers/layer_registry.h"
#include "layers/sequential.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

constexpr size_t kMaxSpecBytes = kMaxModelSpecBytes;
constexpr int kMaxDepth = 16;
// 256M parameters: room for VGG-16 (138M), still refusing absurd specs before allocating.
constexpr double kMaxParams = 256.0 * (1 << 20);
constexpr int64_t kMaxActivation = int64_t{64} << 20;

// ---------------------------------------------------------------------------------------------
// Tokens.

// Splits text into words, braces and separators (';' and line ends); drops comments, spaces,
// tabs and '\r'. Any other control or non-ASCII byte is an error (it is never valid here).
absl::StatusOr<std::vector<SpecToken>> Tokenize(absl::string_view text, const SpecError& err) {
  std::vector<SpecToken> tokens;
  int line = 1, column = 1;
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    const int start_column = column;
    if (c == '\n') {
      tokens.push_back({SpecTokenKind::kSeparator, "\n", line, column});
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
      tokens.push_back({c == '{'   ? SpecTokenKind::kOpen
                        : c == '}' ? SpecTokenKind::kClose
                                   : SpecTokenKind::kSeparator,
                        std::string(1, c), line, column});
      ++i;
      ++column;
      continue;
    }
    const unsigned char uc = static_cast<unsigned char>(c);
    if (uc < 0x20 || uc >= 0x7f) {
      return err.At({SpecTokenKind::kWord, std::string(1, c), line, column},
                    "unexpected character (specs are plain ASCII text)");
    }
    size_t j = i;
    while (j < text.size()) {
      const unsigned char d = static_cast<unsigned char>(text[j]);
      if (d <= 0x20 || d >= 0x7f || d == '{' || d == '}' || d == ';' || d == '#') break;
      ++j;
    }
    tokens.push_back(
        {SpecTokenKind::kWord, std::string(text.substr(i, j - i)), line, start_column});
    column += static_cast<int>(j - i);
    i = j;
  }
  tokens.push_back({SpecTokenKind::kEnd, "", line, column});
  return tokens;
}

// ---------------------------------------------------------------------------------------------
// Statement tree.

// Returns which bodies `keyword` takes: "block" (core) or a registered container keyword.
SpecBody BodyOf(absl::string_view keyword) {
  if (keyword == "block") return SpecBody::kOne;
  const LayerSpecEntry* entry = FindLayerSpec(keyword);
  return entry == nullptr ? SpecBody::kNone : entry->body;
}

// Returns "block and residual": the keywords that take a '{' body, for error messages.
std::string BodyKeywords() {
  std::vector<std::string> out = {"block"};
  for (const std::string& k : LayerSpecKeywords()) {
    if (FindLayerSpec(k)->body != SpecBody::kNone) out.push_back(k);
  }
  return absl::StrJoin(out, ", ");
}

class Parser {
 public:
  Parser(std::vector<SpecToken> tokens, const SpecError& err)
      : tokens_(std::move(tokens)), err_(err) {}

  absl::StatusOr<std::vector<SpecStatement>> ParseAll() { return ParseList(0, nullptr); }

 private:
  const SpecToken& Peek() const { return tokens_[pos_]; }
  const SpecToken& Next() { return tokens_[pos_++]; }
  void SkipSeparators() {
    while (Peek().kind == SpecTokenKind::kSeparator) ++pos_;
  }

  // Parses statements until '}' (consumed; required iff opener != null) or the end.
  absl::StatusOr<std::vector<SpecStatement>> ParseList(int depth, const SpecToken* opener) {
    if (depth > kMaxDepth) {
      return err_.At(*opener, absl::StrCat("blocks nested deeper than ", kMaxDepth));
    }
    std::vector<SpecStatement> out;
    while (true) {
      SkipSeparators();
      const SpecToken& t = Peek();
      if (t.kind == SpecTokenKind::kEnd) {
        if (opener != nullptr) {
          return err_.At(*opener, absl::StrCat("missing '}' for the '{' opened at line ",
                                               opener->line, ", column ", opener->column));
        }
        return out;
      }
      if (t.kind == SpecTokenKind::kClose) {
        if (opener == nullptr) return err_.At(t, "unbalanced '}' (no block is open)");
        ++pos_;
        return out;
      }
      if (t.kind == SpecTokenKind::kOpen) {
        return err_.At(t, "'{' must follow 'block NAME' or 'residual'/'shortcut'");
      }
      SIMDNET_ASSIGN_OR_RETURN(SpecStatement s, ParseStatement(depth));
      out.push_back(std::move(s));
    }
  }

  absl::StatusOr<SpecStatement> ParseStatement(int depth) {
    SpecStatement s;
    s.keyword = Next();
    if (IsSpecSecondKeyword(s.keyword.text)) {
      return err_.At(s.keyword, absl::StrCat("'", s.keyword.text,
                                             " { ... }' must directly follow the '{ ... }' "
                                             "of the statement it belongs to (e.g. residual)"));
    }
    while (Peek().kind == SpecTokenKind::kWord) s.args.push_back(Next());
    const SpecBody body = BodyOf(s.keyword.text);
    if (body == SpecBody::kNone) {
      if (Peek().kind == SpecTokenKind::kOpen) {
        return err_.At(Peek(), absl::StrCat("'", s.keyword.text, "' takes no '{' body (only ",
                                            BodyKeywords(), " do)"));
      }
      return s;
    }
    if (Peek().kind != SpecTokenKind::kOpen) {
      return err_.At(Peek(), absl::StrCat("expected '{' after '", s.keyword.text,
                                          s.keyword.text == "block" ? " NAME" : "", "'"));
    }
    const SpecToken open = Next();
    SIMDNET_ASSIGN_OR_RETURN(s.body, ParseList(depth + 1, &open));
    if (body == SpecBody::kOneAndOptionalSecond) {
      const std::string& second = FindLayerSpec(s.keyword.text)->second_keyword;
      // "SECOND { ... }" may follow on the same or a following line.
      size_t look = pos_;
      while (tokens_[look].kind == SpecTokenKind::kSeparator) ++look;
      if (tokens_[look].kind == SpecTokenKind::kWord && tokens_[look].text == second) {
        pos_ = look;
        s.has_second = true;
        s.second_keyword = Next();
        while (Peek().kind == SpecTokenKind::kWord) s.second_args.push_back(Next());
        if (Peek().kind != SpecTokenKind::kOpen) {
          return err_.At(Peek(), absl::StrCat("expected '{' after '", second, "'"));
        }
        const SpecToken sopen = Next();
        SIMDNET_ASSIGN_OR_RETURN(s.second_body, ParseList(depth + 1, &sopen));
      }
    }
    return s;
  }

  std::vector<SpecToken> tokens_;
  size_t pos_ = 0;
  const SpecError& err_;
};

// ---------------------------------------------------------------------------------------------
// Builder.

class Builder {
 public:
  Builder(int64_t num_classes, uint64_t seed, const SpecError& err)
      : num_classes_(num_classes), rng_(seed), err_(err) {}

  absl::Status BuildList(const std::vector<SpecStatement>& list, Sequential* seq) {
    for (const SpecStatement& s : list) {
      const std::string& kw = s.keyword.text;
      if (kw == "input") {
        return err_.At(s.keyword, "'input' must be the first statement of the spec");
      }
      if (kw == "block") {
        SIMDNET_RETURN_IF_ERROR(BuildBlock(s, seq));
        continue;
      }
      // "name=NAME" on a layer statement names it in its block instead of its index
      // (torchvision's "conv1", "fc", "downsample"-style names); maxpool also keeps it for
      // maxunpool references, every other layer never sees it.
      const SpecToken* name_token = nullptr;
      SpecStatement stripped;
      const SpecStatement* stmt = &s;
      for (size_t i = 0; i < s.args.size(); ++i) {
        if (!absl::StartsWith(s.args[i].text, "name=")) continue;
        name_token = &s.args[i];
        const std::string name = name_token->text.substr(5);
        bool ok = !name.empty();
        for (char c : name) {
          ok = ok && (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-');
        }
        // (A maxpool checks its own name, which maxunpool statements refer to.)
        if (!ok && kw != "maxpool") {
          return err_.At(*name_token, "layer names use letters, digits, '_' or '-'");
        }
        if (kw != "maxpool") {
          stripped = s;
          stripped.args.erase(stripped.args.begin() + static_cast<std::ptrdiff_t>(i));
          stmt = &stripped;
        }
        break;
      }
      SIMDNET_ASSIGN_OR_RETURN(std::unique_ptr<Layer> layer,
                               BuildLayer(*stmt, seq->OutputShape()));
      if (layer->OutputShape().size() > kMaxActivation) {
        return err_.At(s.keyword, absl::StrCat("output shape ", layer->OutputShape().ToString(),
                                               " exceeds ", kMaxActivation,
                                               " elements per sample"));
      }
      params_ += static_cast<double>(layer->NumParams());
      absl::Status added = seq->Add(
          std::move(layer), name_token == nullptr ? "" : name_token->text.substr(5));
      if (!added.ok()) {
        return err_.At(name_token == nullptr ? s.keyword : *name_token, added.message());
      }
    }
    return absl::OkStatus();
  }

 private:
  absl::Status BuildBlock(const SpecStatement& s, Sequential* seq) {
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
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<Layer>> BuildLayer(const SpecStatement& s, const Shape& in) {
    const LayerSpecEntry* entry = FindLayerSpec(s.keyword.text);
    if (entry == nullptr) {
      return err_.At(s.keyword, absl::StrCat("unknown layer (expected ",
                                             absl::StrJoin(LayerSpecKeywords(), ", "),
                                             ", block)"));
    }
    SpecArgs args(s, err_);
    LayerSpecContext context{
        s,
        args,
        in,
        num_classes_,
        rng_,
        err_,
        named_layers_,
        [this, &s](double add) -> absl::Status {
          if (params_ + add > kMaxParams) {
            return err_.At(s.keyword, absl::StrCat("the model would exceed ",
                                                   static_cast<int64_t>(kMaxParams),
                                                   " parameters"));
          }
          return absl::OkStatus();
        },
        [this](const std::vector<SpecStatement>& body,
               const Shape& body_in) -> absl::StatusOr<std::unique_ptr<Sequential>> {
          SIMDNET_ASSIGN_OR_RETURN(std::unique_ptr<Sequential> seq, Sequential::Create(body_in));
          SIMDNET_RETURN_IF_ERROR(BuildList(body, seq.get()));
          return seq;
        }};
    return entry->factory(context);
  }

  int64_t num_classes_;
  Rng rng_;
  const SpecError& err_;
  double params_ = 0.0;
  std::map<std::string, Layer*> named_layers_;
};

// Parses "1x28x28" / "784" into a per-sample shape.
absl::StatusOr<Shape> ParseInputShape(const SpecStatement& s, const SpecError& err) {
  if (s.args.size() != 1) {
    return err.At(s.args.empty() ? s.keyword : s.args[1],
                  "'input' takes one shape, e.g. 'input 1x28x28' or 'input 784'");
  }
  const SpecToken& t = s.args[0];
  const std::vector<absl::string_view> parts = absl::StrSplit(t.text, 'x');
  if (parts.size() > 3) return err.At(t, "input shapes have 1 to 3 dims (CxHxW or F)");
  std::vector<int64_t> dims;
  int64_t total = 1;
  for (absl::string_view p : parts) {
    SIMDNET_ASSIGN_OR_RETURN(const int64_t v,
                             ParseSpecInt(t, p, "input dim", 1, kSpecMaxSize, err));
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
  if (num_classes < 1 || num_classes > kSpecMaxSize) {
    return err.General(absl::StrCat("num_classes must be in [1, ", kSpecMaxSize, "], got ",
                                    num_classes));
  }
  SIMDNET_ASSIGN_OR_RETURN(std::vector<SpecToken> tokens, Tokenize(spec, err));
  Parser parser(std::move(tokens), err);
  SIMDNET_ASSIGN_OR_RETURN(std::vector<SpecStatement> statements, parser.ParseAll());
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
      std::vector<SpecStatement>(statements.begin() + static_cast<ptrdiff_t>(first),
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

}  // namespace simdnet
