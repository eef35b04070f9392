// Parser for the small "name:key=value,key=value" spec strings that select
// optimizers, schedules and parameter groups from the CLI or a config file,
// with typed getters whose errors name the spec, the key and the offending
// value.
//
// Grammar (whitespace around every token is ignored):
//   spec  := name [ ':' [ pair { ',' pair } ] ]
//   name  := [A-Za-z0-9_]+                      (compared case-sensitively)
//   pair  := key '=' value                      (each key at most once)
//   key   := [A-Za-z0-9_]+
//   value := any text without ',' ':' '='       (numbers, words, "a/b/c")
#ifndef SIMDNET_OPTIM_SPEC_PARSER_H_
#define SIMDNET_OPTIM_SPEC_PARSER_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace simdnet {
namespace optim_internal {

class SpecArgs {
 public:
  // Parses `spec`; `what` names the kind of spec in errors ("optimizer spec").
  // InvalidArgument naming the spec and the token for an empty or malformed
  // name, a pair without '=', an empty key or value, or a repeated key.
  static absl::StatusOr<SpecArgs> Parse(absl::string_view spec,
                                        absl::string_view what);

  // Returns the name before ':' (e.g. "sgd").
  const std::string& name() const { return name_; }
  // Returns whether `key` was given (does not mark it as known).
  bool Has(absl::string_view key) const;

  // Typed getters: return `def` when the key is absent, else the parsed value;
  // InvalidArgument naming the key and the value when it does not parse. Every
  // getter marks the key as known. Doubles must be finite.
  absl::StatusOr<double> GetDouble(absl::string_view key, double def);
  // Integers must fit in int64.
  absl::StatusOr<int64_t> GetInt(absl::string_view key, int64_t def);
  // Booleans are 0/1/true/false.
  absl::StatusOr<bool> GetBool(absl::string_view key, bool def);
  // Strings are returned verbatim (callers check them against their choices).
  absl::StatusOr<std::string> GetString(absl::string_view key,
                                        absl::string_view def);
  // Lists are '/'-separated finite doubles, e.g. "0.9/0.999"; at least one
  // element.
  absl::StatusOr<std::vector<double>> GetDoubleList(
      absl::string_view key, const std::vector<double>& def);

  // Returns OK if `ok`, else InvalidArgument "<what> '<spec>': invalid
  // <key>=<value>: <requirement>". Use after a getter to range-check its value.
  absl::Status Require(bool ok, absl::string_view key,
                       absl::string_view requirement) const;

  // Returns OK if `key` is present, else InvalidArgument "<what> '<spec>':
  // missing required key".
  absl::Status RequireKey(absl::string_view key) const;

  // Returns InvalidArgument naming the first key no getter asked for, and the
  // known keys.
  absl::Status CheckNoUnknownKeys() const;

  // Returns the error prefix "<what> '<spec>'" for messages built by callers.
  std::string Context() const;

 private:
  SpecArgs() = default;
  absl::Status BadValue(absl::string_view key,
                        absl::string_view expected) const;

  std::string what_;
  std::string spec_;
  std::string name_;
  std::map<std::string, std::string> values_;
  std::set<std::string> known_;
};

// Returns the shortest decimal text that parses back to exactly `value` ("0.1",
// "5e-04"), so that ToSpec() strings round-trip.
std::string FormatSpecDouble(double value);

}  // namespace optim_internal
}  // namespace simdnet

#endif  // SIMDNET_OPTIM_SPEC_PARSER_H_
