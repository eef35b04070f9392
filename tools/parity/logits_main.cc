// parity_logits: runs a simdnet checkpoint on a .npy batch and writes what PyTorch parity needs:
// the logits, the softmax cross-entropy loss and (with --grads) the parameter and input gradients.
//
//   parity_logits --checkpoint=c.safetensors --input=x.npy --labels=y.npy --out=r.safetensors
//       [--mode=eval|train] [--grads]
// x.npy is '<f4' (N, prod(input shape)) of network inputs (already normalized: the checkpoint's
// normalization is NOT applied); y.npy holds N class labels. The output safetensors holds
// "logits" (N, K), "loss" (1), and with --grads "grad/<param name>" and "grad/input" (the
// gradient of the mean loss), for tools/parity/parity.py to compare against torch.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "interpret/npy.h"
#include "layers/loss.h"
#include "layers/model.h"
#include "tensor/shape.h"
#include "tensor/status_macros.h"
#include "tensor/tensor.h"
#include "train/checkpoint.h"
#include "train/safetensors.h"

ABSL_FLAG(std::string, checkpoint, "", "simdnet checkpoint (.safetensors)");
ABSL_FLAG(std::string, input, "", "'<f4' .npy batch, shape (N, prod(input shape))");
ABSL_FLAG(std::string, labels, "", "'<i8'/'<i4' .npy labels, shape (N)");
ABSL_FLAG(std::string, out, "", "output .safetensors (logits, loss, gradients)");
ABSL_FLAG(std::string, mode, "eval", "eval (running BN statistics) or train (batch statistics)");
ABSL_FLAG(bool, grads, false, "also write the parameter and input gradients of the mean loss");

namespace simdnet {
namespace {

absl::Status Run() {
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode != "eval" && mode != "train") {
    return absl::InvalidArgumentError(absl::StrCat("--mode: expected eval or train, got '",
                                                   mode, "'"));
  }
  SIMDNET_ASSIGN_OR_RETURN(Checkpoint ckpt, ReadCheckpoint(absl::GetFlag(FLAGS_checkpoint)));
  SIMDNET_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, ModelFromCheckpoint(ckpt));
  SIMDNET_ASSIGN_OR_RETURN(NpyFloatArray in, ReadNpyFloat32(absl::GetFlag(FLAGS_input)));
  SIMDNET_ASSIGN_OR_RETURN(std::vector<int64_t> labels,
                           ReadNpyLabels(absl::GetFlag(FLAGS_labels)));
  const Shape& sample = model->InputShape();
  if (in.shape.size() != 2 || in.shape[1] != sample.size() ||
      in.shape[0] != static_cast<int64_t>(labels.size())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--input must be (N, ", sample.size(), ") with N = ", labels.size(), " labels"));
  }
  std::vector<int64_t> dims = {in.shape[0]};
  for (int64_t d : sample.dims()) dims.push_back(d);
  SIMDNET_ASSIGN_OR_RETURN(Tensor x, Tensor::FromVector(Shape(absl::Span<const int64_t>(dims)),
                                                        in.data));
  model->SetMode(mode == "train" ? Mode::kTrain : Mode::kEval);
  model->ZeroGrad();
  Tensor logits, dlogits, dx;
  SIMDNET_RETURN_IF_ERROR(model->Forward(x, &logits));
  SIMDNET_ASSIGN_OR_RETURN(const float loss, SoftmaxCrossEntropy(logits, labels, &dlogits));

  SafetensorsContents out;
  out.tensors["logits"] = logits;
  SIMDNET_ASSIGN_OR_RETURN(out.tensors["loss"], Tensor::FromVector(Shape({1}), {loss}));
  if (absl::GetFlag(FLAGS_grads)) {
    model->Backward(dlogits, &dx);
    out.tensors["grad/input"] = dx;
    for (const NamedParameter& p : model->Params()) {
      out.tensors[absl::StrCat("grad/", p.name)] = p.param->grad;
    }
  }
  out.metadata["mode"] = mode;
  return SaveSafetensors(absl::GetFlag(FLAGS_out), out);
}

}  // namespace
}  // namespace simdnet

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const absl::Status status = simdnet::Run();
  if (!status.ok()) {
    std::fprintf(stderr, "parity_logits: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
