// Model specs: a small human-readable text format for networks, its parser/builder, and the
// built-in presets (lenet5, vgg-small, resnet-small).
//
// Grammar (one statement per line, or several separated by ';'; '#' starts a comment to the end
// of the line; blank lines, tabs and CRLF line ends are fine; keywords are lower case):
//
//   input CxHxW | input F        per-sample input shape, e.g. "input 1x28x28" (first statement;
//                                optional when the caller passes an input shape)
//   block NAME { ... }           a named nested Sequential (PyTorch-style names:
//                                "features.0.weight"); NAME is letters, digits, '_' or '-'
//   KEYWORD [OPTIONS]            a layer registered in the layer registry
//                                (layers/layer_registry.h); SpecGrammarHelp() lists every keyword
//                                with its options. Built in: conv, linear, bn, relu, lrelu
//                                (leaky_relu), tanh, sigmoid, maxpool, avgpool, maxunpool, gap,
//                                flatten, log_softmax, dropout, residual { ... } [shortcut
//                                { ... }]. Sizes are "N" or "HxW" (k3, k3x5, s2, p1).
//
// Unnamed statements are numbered from 0 within their block, as torch.nn.Sequential. Layers are
// created in spec order, drawing their initial weights (and dropout streams) from one
// Rng(seed), so a spec and the same network built in C++ from Rng(seed) in the same order are
// identical. Model::ToSpec() (layers/model.h) writes a model back as spec text.
//
// Errors are InvalidArgument naming the source, line and column, the offending token and the
// reason, e.g. "model spec:3:6: 'q3': unknown or repeated option for 'conv' (expected ...)".
// Limits (to reject hostile specs before allocating): sizes <= 65536 (kernel, stride, pad,
// dilation <= 4096), nesting depth <= 16, 1 MiB of text, <= 256M parameters, <= 64M elements
// per sample activation.
#ifndef SIMDNET_LAYERS_MODEL_SPEC_H_
#define SIMDNET_LAYERS_MODEL_SPEC_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "layers/model.h"
#include "tensor/shape.h"

namespace simdnet {

// The largest spec text ModelFromSpec and LoadModelSpecText accept.
inline constexpr size_t kMaxModelSpecBytes = size_t{1} << 20;

// Parses `spec` and builds the model, initialized from Rng(seed). `input_shape`, when given,
// overrides the spec's "input" statement (e.g. to run lenet5 on 3x32x32). The network must end
// in (num_classes). `source` names the text in error messages (a path, or "preset lenet5").
// InvalidArgument (see the header comment) for any bad spec; Requires nothing of the text.
absl::StatusOr<std::unique_ptr<Model>> ModelFromSpec(
    absl::string_view spec, const std::optional<Shape>& input_shape, int64_t num_classes,
    uint64_t seed, absl::string_view source = "model spec");

// Returns the names of the small built-in presets: "lenet5", "vgg-small", "resnet-small".
// PresetSpec and LoadModel also take the torchvision architectures (layers/torchvision_specs.h:
// "alexnet", "vgg11", ..., "resnet50", "mobilenet_v2"), listed by TorchvisionArchNames().
std::vector<std::string> PresetNames();
// Returns the spec text of a preset; NotFound listing the presets otherwise.
absl::StatusOr<std::string> PresetSpec(absl::string_view name);

// Returns the spec text for `name_or_path`: a preset name, else the contents of that file.
// NotFound naming the path (and listing presets) if neither; ResourceExhausted (as
// tensor/atomic_file.h's ReadFile) if the file is larger than kMaxModelSpecBytes.
absl::StatusOr<std::string> LoadModelSpecText(absl::string_view name_or_path);

// Builds a model from a preset name or a spec file path (LoadModelSpecText + ModelFromSpec with
// the name or path as the error source).
absl::StatusOr<std::unique_ptr<Model>> LoadModel(absl::string_view name_or_path,
                                                 const std::optional<Shape>& input_shape,
                                                 int64_t num_classes, uint64_t seed);

}  // namespace simdnet

#endif  // SIMDNET_LAYERS_MODEL_SPEC_H_
