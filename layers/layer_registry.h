// The layer registry: each layer type registers its model-spec keyword, its option parser and
// factory, its usage line for the grammar help, and a spec printer (Layer::ToSpec) in its own
// `<layer>_spec.cc`. The spec parser (layers/model_spec.cc), its list of keywords in error
// messages and SpecGrammarHelp() all read this registry, so a new plain layer touches only its
// own files and BUILD.
//
// Adding a layer type "foo" (see layers/flatten_spec.cc for the smallest example):
//   1. In foo_spec.cc, at namespace scope:
//        const bool kFooRegistered = RegisterLayerSpec({
//            "foo", "foo [aA]   what it does", SpecBody::kNone,
//            [](LayerSpecContext& c) -> absl::StatusOr<std::unique_ptr<Layer>> {
//              ... read options with c.args (Flag, Pair, Float, Choice, Init, Positional),
//              SIMDNET_RETURN_IF_ERROR(c.args.Finish("aA"));
//              return c.Wrap(Foo::Create(options, c.input));
//            }});
//        const bool kFooPrinter = RegisterSpecPrinter("foo", [](const Layer& l) { ... });
//      The printer receives layers whose TypeName() is "foo" and returns one statement that
//      builds an identical layer ("foo a3"); FailedPrecondition if the layer cannot be written.
//   2. In BUILD: a cc_library "foo_spec" with srcs = ["foo_spec.cc"], alwayslink = True (static
//      registration: without it the linker drops the unreferenced object), deps on ":foo" and
//      ":layer_registry"; add it to the deps of ":model_spec" so every spec user links it.
//
// Registration runs during static initialization; the registry is a function-local static, so
// the order of translation units does not matter. Registering a keyword or a printer twice is a
// programmer error and aborts at start-up with a message.
#ifndef SIMDNET_LAYERS_LAYER_REGISTRY_H_
#define SIMDNET_LAYERS_LAYER_REGISTRY_H_

#include <array>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "layers/init.h"
#include "tensor/rng.h"
#include "tensor/shape.h"

namespace simdnet {

class Layer;       // layers/layer.h (which depends on this registry for Layer::ToSpec)
class Sequential;  // layers/sequential.h

// Limits every spec statement obeys (hostile specs are rejected before allocating).
inline constexpr int64_t kSpecMaxSize = 65536;   // channels, features, input dims
inline constexpr int64_t kSpecMaxWindow = 4096;  // kernel, stride, pad, dilation

// ---------------------------------------------------------------------------------------------
// Tokens, statements and errors of the spec grammar (layers/model_spec.h).

enum class SpecTokenKind { kWord, kOpen, kClose, kSeparator, kEnd };

struct SpecToken {
  SpecTokenKind kind = SpecTokenKind::kEnd;
  std::string text;
  int line = 0, column = 0;
};

// One statement: its keyword, its words before any '{', and the bodies of container keywords.
struct SpecStatement {
  SpecToken keyword;
  std::vector<SpecToken> args;
  std::vector<SpecStatement> body;         // SpecBody::kOne / kOneAndOptionalSecond
  bool has_second = false;                 // the optional second body was given
  SpecToken second_keyword;                // e.g. "shortcut"
  std::vector<SpecToken> second_args;      // words between the second keyword and its '{'
  std::vector<SpecStatement> second_body;  // e.g. the residual projection branch
};

// Builds InvalidArgument errors anchored at "source:line:column: 'token': reason".
class SpecError {
 public:
  explicit SpecError(absl::string_view source) : source_(source) {}
  // Returns InvalidArgument "source:line:column: <token shown>: why".
  absl::Status At(const SpecToken& t, absl::string_view why) const;
  // Returns InvalidArgument "source: why" (for errors about the whole spec).
  absl::Status General(absl::string_view why) const;

 private:
  std::string source_;
};

// Parses digits as an integer in [min, max]; an error at t naming `what` otherwise.
absl::StatusOr<int64_t> ParseSpecInt(const SpecToken& t, absl::string_view digits,
                                     absl::string_view what, int64_t min, int64_t max,
                                     const SpecError& err);
// Parses a finite float; an error at t naming `what` otherwise.
absl::StatusOr<float> ParseSpecFloat(const SpecToken& t, absl::string_view text,
                                     absl::string_view what, const SpecError& err);
// Parses "pad=T,L,B,R" (the whole token) into {top, left, bottom, right}, each in
// [0, kSpecMaxWindow].
absl::StatusOr<std::array<int64_t, 4>> ParseSpecFourPads(const SpecToken& t, const SpecError& err);

// The options of one statement: single-letter-prefixed sizes ("k3", "s2x1"), flags ("nobias"),
// key=value words and positional words. Each accessor marks what it reads as used; Finish()
// rejects what nobody read (unknown or repeated options).
class SpecArgs {
 public:
  SpecArgs(const SpecStatement& s, const SpecError& err);

  // Returns whether an unused argument equals `flag` (e.g. "nobias"), marking it used.
  bool Flag(absl::string_view flag);
  // Finds the first unused "<prefix><value>" (e.g. "k3", "eps=1e-3"), marks it used and returns
  // its index in statement().args, or -1. A one-letter prefix must be followed by a digit or a
  // sign, so that words such as "pad" do not match "p".
  int Find(absl::string_view prefix);
  // Reads "<prefix>N" or "<prefix>HxW" (each in [min, kSpecMaxWindow]) as (h, w).
  absl::StatusOr<std::optional<std::pair<int64_t, int64_t>>> Pair(absl::string_view prefix,
                                                                  absl::string_view what,
                                                                  int64_t min);
  // Reads "<key>F" as a finite float.
  absl::StatusOr<std::optional<float>> Float(absl::string_view key, absl::string_view what);
  // Reads "<key>N" as an integer in [min, max].
  absl::StatusOr<std::optional<int64_t>> Int(absl::string_view key, absl::string_view what,
                                             int64_t min, int64_t max);
  // Returns the index in `choices` of the value of an unused "<key><value>", or -1 when absent;
  // an error naming the key and the choices for any other value.
  absl::StatusOr<int> Choice(absl::string_view key,
                             std::initializer_list<absl::string_view> choices);
  // Reads "<key>SPEC" with ParseInitSpec (layers/init.h).
  absl::StatusOr<std::optional<InitSpec>> Init(absl::string_view key);
  // Returns the first unused argument, marking it used; null if none.
  const SpecToken* Positional();
  // Fails on the first argument nobody used, listing `expected` options.
  absl::Status Finish(absl::string_view expected) const;

  const SpecStatement& statement() const { return s_; }

 private:
  const SpecStatement& s_;
  const SpecError& err_;
  std::vector<bool> used_;
};

// ---------------------------------------------------------------------------------------------
// Factories.

// What a factory gets to build one layer from one statement.
struct LayerSpecContext {
  const SpecStatement& statement;
  SpecArgs& args;
  // The per-sample input shape (the previous layer's output).
  const Shape& input;
  // The num_classes given to the builder ("linear classes").
  int64_t num_classes;
  // The model's initialization stream: draw from it in statement order only.
  Rng& rng;
  const SpecError& err;
  // Layers earlier statements named (maxpool name=NAME), for later references (maxunpool NAME).
  // Owned by the model under construction.
  std::map<std::string, Layer*>& named_layers;
  // Returns an error at the keyword if adding `params` parameters would exceed the spec's
  // parameter budget; call before creating a layer with parameters.
  std::function<absl::Status(double params)> check_param_budget;
  // Builds a body (SpecBody kinds) into a Sequential with per-sample input `in`.
  std::function<absl::StatusOr<std::unique_ptr<Sequential>>(const std::vector<SpecStatement>& body,
                                                            const Shape& in)>
      build_body;

  // Returns an InvalidArgument at the statement's keyword.
  absl::Status Error(absl::string_view why) const { return err.At(statement.keyword, why); }
  // Converts a factory result to a Layer, re-anchoring its error (which already names the layer
  // and field) at the statement's keyword. Requires: L derives from Layer (complete here).
  template <typename L>
  absl::StatusOr<std::unique_ptr<Layer>> Wrap(absl::StatusOr<std::unique_ptr<L>> layer) const {
    if (!layer.ok()) return Error(layer.status().message());
    return std::unique_ptr<Layer>(std::move(layer).value());
  }
};

// Reads the first positional argument as an output count in [1, kSpecMaxSize], or "classes" as
// context.num_classes; `what` names it in errors ("output channel count").
absl::StatusOr<int64_t> ReadSpecOutCount(LayerSpecContext& context, absl::string_view what);

using LayerSpecFactory =
    std::function<absl::StatusOr<std::unique_ptr<Layer>>(LayerSpecContext& context)>;

// Which '{ ... }' bodies a keyword takes.
enum class SpecBody {
  kNone,                  // a plain layer: "conv 32 k3"
  kOne,                   // "KEYWORD [words] { ... }"
  kOneAndOptionalSecond,  // "KEYWORD { ... } [SECOND { ... }]" (residual / shortcut)
};

struct LayerSpecEntry {
  // The statement keyword, lower case: letters, digits and '_'.
  std::string keyword;
  // The grammar help: "keyword ARGS", a tab or two spaces, then what it builds; further lines
  // indented. Shown by SpecGrammarHelp().
  std::string usage;
  SpecBody body = SpecBody::kNone;
  // For kOneAndOptionalSecond: the keyword that opens the second body (e.g. "shortcut").
  std::string second_keyword;
  LayerSpecFactory factory;
};

// Registers `entry`; returns true (for `const bool kRegistered = RegisterLayerSpec(...)`).
// Aborts if the keyword is empty, reserved ("input", "block") or already registered.
bool RegisterLayerSpec(LayerSpecEntry entry);
// Returns the entry for `keyword`, or null.
const LayerSpecEntry* FindLayerSpec(absl::string_view keyword);
// Returns every registered keyword, sorted.
std::vector<std::string> LayerSpecKeywords();
// Returns whether `word` opens the second body of some keyword (e.g. "shortcut").
bool IsSpecSecondKeyword(absl::string_view word);
// Returns the grammar help: the core statements (input, block) and every registered usage,
// sorted by keyword.
std::string SpecGrammarHelp();

// ---------------------------------------------------------------------------------------------
// Printers (Layer::ToSpec).

// Returns the spec text that builds a layer equal to `layer` (same options, hence the same
// parameter shapes and names, and the same initial values from the same Rng state): one
// statement for a leaf; statements separated by '\n' for containers (bodies indented by two
// spaces). FailedPrecondition when the layer's state has no spec form.
using SpecPrinter = std::function<absl::StatusOr<std::string>(const Layer& layer)>;

// Registers the printer for layers whose TypeName() is `type_name`; returns true. Aborts if
// that type name already has a printer.
bool RegisterSpecPrinter(absl::string_view type_name, SpecPrinter printer);
// Returns the printer for `type_name`, or null.
const SpecPrinter* FindSpecPrinter(absl::string_view type_name);

// Formatting helpers for printers.
// Returns the shortest decimal text that ParseSpecFloat reads back to exactly v.
std::string FormatSpecFloat(float v);
// Returns "<prefix>N" when h == w, else "<prefix>HxW" (e.g. "k3", "k3x5").
std::string FormatSpecPair(absl::string_view prefix, int64_t h, int64_t w);
// Returns `text` with every line indented by two spaces.
std::string IndentSpec(absl::string_view text);
// Appends "init=SPEC" and (with a bias) "bias_init=SPEC" to `words` where they differ from
// PyTorch's default initialization (conv and linear statements).
void AppendInitWords(const InitSpec& weight_init, bool bias, const InitSpec& bias_init,
                     std::vector<std::string>* words);

}  // namespace simdnet

#endif  // SIMDNET_LAYERS_LAYER_REGISTRY_H_
