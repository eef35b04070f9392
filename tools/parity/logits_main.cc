// parity_logits: runs a simdnet checkpoint on a .npy batch and writes what PyTorch parity needs:
// the logits, the softmax cross-entropy loss and (with --grads) the parameter and input gradients.
//
//   parity_logits --checkpoint=c.safetensors --input=x.npy --labels=y.npy --out=r.safetensors
//       [--mode=eval|train] [--grads]
// x.npy is '<f4' (N, prod(input shape)) of network inputs (already normalized: the checkpoint's
// normalization is NOT applied); y.npy holds N class labels. The output safetensors holds
// "logits" (N, K), "loss" (1), and with --grads "grad/<param name>" and "grad/input" (the
// gradient of the mean loss), for tools/parity/parity.py to compare against torch.
//
// With --train_steps=S (and --optimizer=SPEC, --batch=B) it instead trains for S steps in train
// mode over the N samples in consecutive batches of B (wrapping around, no shuffling) and writes
// "loss_curve" (S), every parameter as "param/<name>" and every buffer (BatchNorm running
// statistics) as "buffer/<name>", for tools/parity/train_parity.py.
#include <algorithm>
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
#include "optim/make_optimizer.h"
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
ABSL_FLAG(int64_t, train_steps, 0, "> 0: train this many steps instead (see the file comment)");
ABSL_FLAG(std::string, optimizer, "sgd:lr=0.05,momentum=0.9,form=pytorch,weight_decay=5e-4",
          "--train_steps: optimizer spec (optim/make_optimizer.h)");
ABSL_FLAG(int64_t, batch, 16, "--train_steps: batch size");

namespace simdnet {
namespace {

// Trains `steps` SGD steps over x in consecutive batches (see the file comment).
absl::Status TrainSteps(Model& model, const Tensor& x, const std::vector<int64_t>& labels,
                        int64_t steps) {
  const int64_t n = x.dim(0), b = absl::GetFlag(FLAGS_batch);
  if (b < 1 || b > n) {
    return absl::InvalidArgumentError(absl::StrCat("--batch=", b, ": must be in [1, ", n, "]"));
  }
  SIMDNET_ASSIGN_OR_RETURN(std::unique_ptr<Optimizer> opt,
                           MakeOptimizer(absl::GetFlag(FLAGS_optimizer)));
  model.SetMode(Mode::kTrain);
  const int64_t per = x.size() / n;
  std::vector<int64_t> dims = {b};
  for (int i = 1; i < x.rank(); ++i) dims.push_back(x.dim(i));
  SIMDNET_ASSIGN_OR_RETURN(Tensor batch, Tensor::Create(dims));
  std::vector<int64_t> batch_labels(static_cast<size_t>(b));
  std::vector<float> curve;
  for (int64_t step = 0; step < steps; ++step) {
    for (int64_t i = 0; i < b; ++i) {
      const int64_t src = (step * b + i) % n;
      std::copy(x.data() + src * per, x.data() + (src + 1) * per, batch.data() + i * per);
      batch_labels[static_cast<size_t>(i)] = labels[static_cast<size_t>(src)];
    }
    model.ZeroGrad();
    SIMDNET_ASSIGN_OR_RETURN(
        const float loss,
        model.ForwardBackward(batch, [&](const Tensor& z, Tensor* dz) {
          return SoftmaxCrossEntropy(z, batch_labels, dz);
        }));
    curve.push_back(loss);
    SIMDNET_RETURN_IF_ERROR(opt->Step(model.Params(), opt->base_lr()));
  }
  SafetensorsContents out;
  SIMDNET_ASSIGN_OR_RETURN(out.tensors["loss_curve"],
                           Tensor::FromVector(Shape({steps}), curve));
  for (const NamedParameter& p : model.Params()) {
    out.tensors[absl::StrCat("param/", p.name)] = p.param->value;
  }
  for (const NamedBuffer& buf : model.Buffers()) {
    out.tensors[absl::StrCat("buffer/", buf.name)] = *buf.value;
  }
  out.metadata["optimizer"] = opt->ToSpec();
  return SaveSafetensors(absl::GetFlag(FLAGS_out), out);
}

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
  const int64_t steps = absl::GetFlag(FLAGS_train_steps);
  if (steps > 0) return TrainSteps(*model, x, labels, steps);
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
