// The interpretation subcommands of the `simdnet` CLI (filters, patches, activations, tsne,
// saliency, adversarial, classvis, inspect): their flags, defined here, and the dispatch from
// flags to the Run*Command functions of interpret/.
#ifndef SIMDNET_INTERPRET_CLI_H_
#define SIMDNET_INTERPRET_CLI_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "train/commands.h"

namespace simdnet {

// What the interpretation commands share with the rest of the CLI (flags defined in main).
struct InterpretCommonOptions {
  std::string checkpoint;            // --checkpoint
  std::string out_dir;               // --out ("" = <checkpoint's folder>/<command>)
  uint64_t seed = 1;                 // --seed
  DataOptions data;                  // --dataset, --data_dir, ...
  std::vector<std::string> files;    // positional image files (saliency, adversarial)
};

// Returns whether `command` is one of the interpretation subcommands.
bool IsInterpretCommand(const std::string& command);

// Returns the usage lines of the interpretation subcommands for the CLI's help text.
const char* InterpretUsage();

// Runs interpretation subcommand `command` with the common options and this file's flags, and
// returns the text to print. Errors name the flag.
// Requires: IsInterpretCommand(command).
absl::StatusOr<std::string> RunInterpretCommand(const std::string& command,
                                                const InterpretCommonOptions& common);

}  // namespace simdnet

#endif  // SIMDNET_INTERPRET_CLI_H_
