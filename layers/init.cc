// torch.nn.init-compatible initializers, the gain table and the init spec parser.
#include "layers/init.h"

#include <cmath>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

struct NonlinearityName {
  Nonlinearity nonlinearity;
  const char* name;
};
constexpr NonlinearityName kNonlinearityNames[] = {
    {Nonlinearity::kLinear, "linear"},     {Nonlinearity::kRelu, "relu"},
    {Nonlinearity::kLeakyRelu, "leaky_relu"}, {Nonlinearity::kTanh, "tanh"},
    {Nonlinearity::kSigmoid, "sigmoid"},
};

struct KindName {
  InitKind kind;
  const char* name;
};
constexpr KindName kKindNames[] = {
    {InitKind::kConstant, "constant"},
    {InitKind::kNormal, "normal"},
    {InitKind::kUniform, "uniform"},
    {InitKind::kXavierUniform, "xavier_uniform"},
    {InitKind::kXavierNormal, "xavier_normal"},
    {InitKind::kKaimingUniform, "kaiming_uniform"},
    {InitKind::kKaimingNormal, "kaiming_normal"},
};

const char* NameOf(Nonlinearity n) {
  for (const NonlinearityName& e : kNonlinearityNames) {
    if (e.nonlinearity == n) return e.name;
  }
  return "?";
}

const char* NameOf(InitKind k) {
  for (const KindName& e : kKindNames) {
    if (e.kind == k) return e.name;
  }
  return "?";
}

bool ParseNonlinearity(absl::string_view token, Nonlinearity* out) {
  for (const NonlinearityName& e : kNonlinearityNames) {
    if (token == e.name) {
      *out = e.nonlinearity;
      return true;
    }
  }
  return false;
}

// Parses a finite float; on failure returns InvalidArgument naming the field and token.
absl::Status ParseFiniteFloat(absl::string_view token, absl::string_view field,
                              absl::string_view text, float* out) {
  float v = 0.0f;
  if (!absl::SimpleAtof(token, &v) || !std::isfinite(v)) {
    return absl::InvalidArgumentError(absl::StrCat("init spec \"", text, "\": ", field,
                                                   " must be a finite number, got \"", token,
                                                   "\""));
  }
  *out = v;
  return absl::OkStatus();
}

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("InitTensor: ", field, " ", why));
}

std::string FormatFloat(float v) { return absl::StrFormat("%.9g", v); }

}  // namespace

InitSpec PyTorchDefaultInit() {
  InitSpec spec;
  spec.kind = InitKind::kKaimingUniform;
  spec.a = std::sqrt(5.0f);
  spec.nonlinearity = Nonlinearity::kLeakyRelu;
  spec.fan_out = false;
  return spec;
}

double InitGain(Nonlinearity nonlinearity, double a) {
  switch (nonlinearity) {
    case Nonlinearity::kLinear:
    case Nonlinearity::kSigmoid:
      return 1.0;
    case Nonlinearity::kTanh:
      return 5.0 / 3.0;
    case Nonlinearity::kRelu:
      return std::sqrt(2.0);
    case Nonlinearity::kLeakyRelu:
      return std::sqrt(2.0 / (1.0 + a * a));
  }
  return 1.0;
}

absl::StatusOr<std::pair<int64_t, int64_t>> ComputeFans(const Shape& weight_shape) {
  if (weight_shape.rank() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("ComputeFans: weight shape ", weight_shape.ToString(),
                     " has rank < 2; fans need (out, in, kernel...)"));
  }
  const int64_t receptive = weight_shape.SizeOf(2, weight_shape.rank());
  return std::make_pair(weight_shape.dim(1) * receptive, weight_shape.dim(0) * receptive);
}

absl::Status InitTensor(const InitSpec& spec, int64_t fan_in, int64_t fan_out, Rng& rng,
                        Tensor* t) {
  const size_t n = static_cast<size_t>(t->size());
  float* data = t->data();
  switch (spec.kind) {
    case InitKind::kConstant:
      if (!std::isfinite(spec.value)) return Invalid("value", "must be finite");
      t->SetAll(spec.value);
      return absl::OkStatus();
    case InitKind::kNormal:
      if (!std::isfinite(spec.std) || spec.std < 0.0f) {
        return Invalid("std", absl::StrCat("must be finite and >= 0, got ", spec.std));
      }
      rng.FillNormal(data, n, 0.0f, spec.std);
      return absl::OkStatus();
    case InitKind::kUniform:
      if (!std::isfinite(spec.low) || !std::isfinite(spec.high) || spec.low > spec.high) {
        return Invalid("low/high", absl::StrCat("must be finite with low <= high, got low=",
                                                spec.low, " high=", spec.high));
      }
      rng.FillUniform(data, n, spec.low, spec.high);
      return absl::OkStatus();
    case InitKind::kXavierUniform:
    case InitKind::kXavierNormal: {
      if (fan_in < 1 || fan_out < 1) {
        return Invalid("fan_in/fan_out", absl::StrCat("must be >= 1 for ", NameOf(spec.kind),
                                                      ", got fan_in=", fan_in,
                                                      " fan_out=", fan_out));
      }
      if (!std::isfinite(spec.a)) return Invalid("a", "must be finite");
      const double stddev = InitGain(spec.nonlinearity, spec.a) *
                            std::sqrt(2.0 / static_cast<double>(fan_in + fan_out));
      if (spec.kind == InitKind::kXavierNormal) {
        rng.FillNormal(data, n, 0.0f, static_cast<float>(stddev));
      } else {
        const float bound = static_cast<float>(std::sqrt(3.0) * stddev);
        rng.FillUniform(data, n, -bound, bound);
      }
      return absl::OkStatus();
    }
    case InitKind::kKaimingUniform:
    case InitKind::kKaimingNormal: {
      const int64_t fan = spec.fan_out ? fan_out : fan_in;
      if (fan < 1) {
        return Invalid(spec.fan_out ? "fan_out" : "fan_in",
                       absl::StrCat("must be >= 1 for ", NameOf(spec.kind), ", got ", fan));
      }
      if (!std::isfinite(spec.a)) return Invalid("a", "must be finite");
      const double stddev =
          InitGain(spec.nonlinearity, spec.a) / std::sqrt(static_cast<double>(fan));
      if (spec.kind == InitKind::kKaimingNormal) {
        rng.FillNormal(data, n, 0.0f, static_cast<float>(stddev));
      } else {
        const float bound = static_cast<float>(std::sqrt(3.0) * stddev);
        rng.FillUniform(data, n, -bound, bound);
      }
      return absl::OkStatus();
    }
  }
  return Invalid("kind", "is not a known InitKind");
}

absl::StatusOr<InitSpec> ParseInitSpec(absl::string_view text) {
  // Tokens are trimmed so that "kaiming_normal : fan_out" (hand-written specs) parses too.
  std::vector<absl::string_view> tokens = absl::StrSplit(text, ':');
  for (absl::string_view& token : tokens) token = absl::StripAsciiWhitespace(token);
  const absl::string_view kind_token = tokens[0];
  auto error = [&](absl::string_view token, absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("init spec \"", text, "\": token \"", token, "\": ", why));
  };
  if (kind_token == "pytorch_default") {
    if (tokens.size() > 1) return error(tokens[1], "pytorch_default takes no arguments");
    return PyTorchDefaultInit();
  }
  InitSpec spec;
  bool found = false;
  for (const KindName& e : kKindNames) {
    if (kind_token == e.name) {
      spec.kind = e.kind;
      found = true;
    }
  }
  if (!found) {
    return error(kind_token,
                 "unknown init kind (expected constant, normal, uniform, xavier_uniform, "
                 "xavier_normal, kaiming_uniform, kaiming_normal or pytorch_default)");
  }
  const size_t num_args = tokens.size() - 1;
  auto too_many = [&](size_t max_args) {
    return error(tokens[max_args + 1],
                 absl::StrCat(kind_token, " takes at most ", max_args, " argument(s)"));
  };
  switch (spec.kind) {
    case InitKind::kConstant:
      if (num_args != 1) {
        return error(kind_token, "constant needs exactly one value, e.g. constant:0");
      }
      SIMDNET_RETURN_IF_ERROR(ParseFiniteFloat(tokens[1], "value", text, &spec.value));
      break;
    case InitKind::kNormal:
      if (num_args > 1) return too_many(1);
      if (num_args == 1) {
        SIMDNET_RETURN_IF_ERROR(ParseFiniteFloat(tokens[1], "std", text, &spec.std));
        if (spec.std < 0.0f) return error(tokens[1], "std must be >= 0");
      }
      break;
    case InitKind::kUniform:
      if (num_args > 2) return too_many(2);
      if (num_args == 1) {
        return error(tokens[1], "uniform needs both bounds, e.g. uniform:-0.1:0.1");
      }
      if (num_args == 2) {
        SIMDNET_RETURN_IF_ERROR(ParseFiniteFloat(tokens[1], "low", text, &spec.low));
        SIMDNET_RETURN_IF_ERROR(ParseFiniteFloat(tokens[2], "high", text, &spec.high));
        if (spec.low > spec.high) return error(tokens[2], "high must be >= low");
      }
      break;
    case InitKind::kXavierUniform:
    case InitKind::kXavierNormal:
      spec.nonlinearity = Nonlinearity::kLinear;  // torch.nn.init.xavier_*: gain = 1
      if (num_args > 1) return too_many(1);
      if (num_args == 1 && !ParseNonlinearity(tokens[1], &spec.nonlinearity)) {
        return error(tokens[1],
                     "expected a nonlinearity (linear, relu, leaky_relu, tanh, sigmoid)");
      }
      break;
    case InitKind::kKaimingUniform:
    case InitKind::kKaimingNormal: {
      bool seen_mode = false, seen_nonlin = false, seen_a = false;
      for (size_t i = 1; i < tokens.size(); ++i) {
        const absl::string_view tok = tokens[i];
        if (tok == "fan_in" || tok == "fan_out") {
          if (seen_mode) return error(tok, "fan mode given twice");
          seen_mode = true;
          spec.fan_out = (tok == "fan_out");
        } else if (absl::StartsWith(tok, "a=")) {
          if (seen_a) return error(tok, "a given twice");
          seen_a = true;
          SIMDNET_RETURN_IF_ERROR(ParseFiniteFloat(tok.substr(2), "a", text, &spec.a));
        } else if (Nonlinearity nl; ParseNonlinearity(tok, &nl)) {
          if (seen_nonlin) return error(tok, "nonlinearity given twice");
          seen_nonlin = true;
          spec.nonlinearity = nl;
        } else {
          return error(tok,
                       "expected fan_in, fan_out, a=<slope> or a nonlinearity (linear, relu, "
                       "leaky_relu, tanh, sigmoid)");
        }
      }
      break;
    }
  }
  return spec;
}

std::string FormatInitSpec(const InitSpec& spec) {
  switch (spec.kind) {
    case InitKind::kConstant:
      return absl::StrCat("constant:", FormatFloat(spec.value));
    case InitKind::kNormal:
      return absl::StrCat("normal:", FormatFloat(spec.std));
    case InitKind::kUniform:
      return absl::StrCat("uniform:", FormatFloat(spec.low), ":", FormatFloat(spec.high));
    case InitKind::kXavierUniform:
    case InitKind::kXavierNormal:
      return absl::StrCat(NameOf(spec.kind), ":", NameOf(spec.nonlinearity));
    case InitKind::kKaimingUniform:
    case InitKind::kKaimingNormal:
      return absl::StrCat(NameOf(spec.kind), ":", spec.fan_out ? "fan_out" : "fan_in", ":",
                          NameOf(spec.nonlinearity), ":a=", FormatFloat(spec.a));
  }
  return "?";
}

}  // namespace simdnet
