// Model specs: a small human-readable text format for networks, its parser/builder, and the
// built-in presets (lenet5, vgg-small, resnet-small).
//
// Grammar (one statement per line, or several separated by ';'; '#' starts a comment to the end
// of the line; blank lines, tabs and CRLF line ends are fine; keywords are lower case):
//
//   input CxHxW | input F        per-sample input shape, e.g. "input 1x28x28" (first statement;
//                                optional when the caller passes an input shape)
//   conv OUT kK [sS] [pP | pad=T,L,B,R | same | same_lower] [dD] [gG] [nobias] [init=SPEC]
//        [bias_init=SPEC]
//                                Conv2d; K, S, P, D are "N" or "HxW" (e.g. k3, k3x5, s2, p1);
//                                pad=T,L,B,R pads top, left, bottom, right (e.g. pad=0,0,1,1);
//                                same keeps OH = ceil(H / S) (ONNX SAME_UPPER: the odd row /
//                                column at the bottom / right; same_lower: at the top / left;
//                                any stride, unlike PyTorch's stride-1 padding="same");
//                                defaults s1 p0 d1 g1; SPEC as ParseInitSpec (layers/init.h)
//   linear OUT|classes [nobias] [init=SPEC] [bias_init=SPEC]
//                                Linear; "classes" means the num_classes passed to the builder
//   bn [eps=E] [momentum=M] [noaffine]
//                                BatchNorm2d after (C, H, W), BatchNorm1d after (F)
//   relu | tanh | sigmoid | lrelu [SLOPE]         activations (leaky_relu is a synonym of lrelu)
//   maxpool kK [sS] [pP | pad=T,L,B,R | same | same_lower] [dD] [ceil] [name=NAME]
//                                max pooling (stride defaults to the kernel); pad=, same and
//                                same_lower as for conv (same: out = ceil(in / S)); ceil is
//                                PyTorch's ceil_mode (a last window starting in the bottom /
//                                right padding is dropped)
//   avgpool kK [sS] [pP | pad=T,L,B,R | same | same_lower] [exclude_pad] [ceil] [divisor=N]
//                                average pooling; exclude_pad is PyTorch's
//                                count_include_pad=False, divisor=N its divisor_override
//   maxunpool NAME               max unpooling (PyTorch's MaxUnpool2d to the pool's input size) at
//                                the argmax positions of the earlier "maxpool ... name=NAME"
//   gap                          global average pooling (C, H, W) -> (C)
//   flatten                      (...) -> (prod)
//   log_softmax                  LogSoftmax over the first per-sample axis (PyTorch dim=1): the
//                                network then outputs log-probabilities for NllLoss; the
//                                softmax cross-entropy of its output equals that of its input
//   dropout [P]                  drop probability P (default 0.5)
//   block NAME { ... }           a named nested Sequential (PyTorch-style names:
//                                "features.0.weight"); NAME is letters, digits, '_' or '-'
//   residual { ... } [shortcut { ... }]
//                                y = main(x) + shortcut(x); identity shortcut when omitted
//
// Unnamed statements are numbered from 0 within their block, as torch.nn.Sequential. Layers are
// created in spec order, drawing their initial weights (and dropout streams) from one
// Rng(seed), so a spec and the same network built in C++ from Rng(seed) in the same order are
// identical.
//
// Errors are InvalidArgument naming the source, line and column, the offending token and the
// reason, e.g. "model spec:3:6: 'q3': unknown conv option (expected kK, sS, ...)".
// Limits (to reject hostile specs before allocating): sizes <= 65536 (kernel, stride, pad,
// dilation <= 4096), nesting depth <= 16, 1 MiB of text, <= 64M parameters, <= 64M elements
// per sample activation.
#ifndef SIMDNET_LAYERS_MODEL_SPEC_H_
#define SIMDNET_LAYERS_MODEL_SPEC_H_

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

// Parses `spec` and builds the model, initialized from Rng(seed). `input_shape`, when given,
// overrides the spec's "input" statement (e.g. to run lenet5 on 3x32x32). The network must end
// in (num_classes). `source` names the text in error messages (a path, or "preset lenet5").
// InvalidArgument (see the header comment) for any bad spec; Requires nothing of the text.
absl::StatusOr<std::unique_ptr<Model>> ModelFromSpec(
    absl::string_view spec, const std::optional<Shape>& input_shape, int64_t num_classes,
    uint64_t seed, absl::string_view source = "model spec");

// Returns the names of the built-in presets: "lenet5", "vgg-small", "resnet-small".
std::vector<std::string> PresetNames();
// Returns the spec text of a preset; NotFound listing the presets otherwise.
absl::StatusOr<std::string> PresetSpec(absl::string_view name);

// Returns the spec text for `name_or_path`: a preset name, else the contents of that file.
// NotFound naming the path (and listing presets) if neither; InvalidArgument if the file is
// larger than 1 MiB.
absl::StatusOr<std::string> LoadModelSpecText(absl::string_view name_or_path);

// Builds a model from a preset name or a spec file path (LoadModelSpecText + ModelFromSpec with
// the name or path as the error source).
absl::StatusOr<std::unique_ptr<Model>> LoadModel(absl::string_view name_or_path,
                                                 const std::optional<Shape>& input_shape,
                                                 int64_t num_classes, uint64_t seed);

}  // namespace simdnet

#endif  // SIMDNET_LAYERS_MODEL_SPEC_H_
