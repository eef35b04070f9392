// Registers the spec printer of Sequential: its children one statement per line, named child
// containers as "block NAME { ... }". (The "block" keyword itself is core spec grammar.)
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "layers/layer_registry.h"
#include "layers/sequential.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

absl::StatusOr<std::string> PrintSequential(const Layer& layer) {
  const Sequential& seq = static_cast<const Sequential&>(layer);
  std::string out;
  for (size_t i = 0; i < seq.size(); ++i) {
    const Sequential::Child& child = seq.child(i);
    SIMDNET_ASSIGN_OR_RETURN(const std::string text, child.layer->ToSpec());
    if (!out.empty()) out += "\n";
    if (child.layer->TypeName() == "sequential") {
      for (char c : child.name) {
        if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) {
          return absl::FailedPreconditionError(
              absl::StrCat("block name '", child.name,
                           "' has characters a spec cannot write (letters, digits, '_', '-')"));
        }
      }
      absl::StrAppend(&out, "block ", child.name, " {\n", IndentSpec(text), "}");
    } else if (child.name == absl::StrCat(i)) {
      out += text;
    } else {
      // A named leaf: "KEYWORD name=NAME ..." (a maxpool already prints its name=).
      for (char c : child.name) {
        if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) {
          return absl::FailedPreconditionError(
              absl::StrCat("layer name '", child.name,
                           "' has characters a spec cannot write (letters, digits, '_', '-')"));
        }
      }
      const std::string tag = absl::StrCat("name=", child.name);
      const size_t space = text.find_first_of(" \n");
      if (text.find(tag) != std::string::npos) {
        out += text;
      } else if (space == std::string::npos) {
        absl::StrAppend(&out, text, " ", tag);
      } else {
        absl::StrAppend(&out, text.substr(0, space), " ", tag, text.substr(space));
      }
    }
  }
  return out;
}

[[maybe_unused]] const bool kRegistered = RegisterSpecPrinter("sequential", PrintSequential);

}  // namespace
}  // namespace simdnet
