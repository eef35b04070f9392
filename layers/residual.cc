// Residual block: two branches over the same input, outputs added, input gradients added.
#include "layers/residual.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "tensor/elementwise.h"
#include "tensor/status_macros.h"
#include "tensor/thread_pool.h"

namespace simdnet {

absl::StatusOr<std::unique_ptr<Residual>> Residual::Create(std::unique_ptr<Sequential> main,
                                                           std::unique_ptr<Sequential> shortcut,
                                                           absl::string_view shortcut_name) {
  if (main == nullptr) return absl::InvalidArgumentError("Residual: the main branch is null");
  if (shortcut_name.empty() ||
      shortcut_name.find_first_of(". \t\r\n") != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Residual: shortcut name '", shortcut_name, "' must be non-empty without '.' or spaces"));
  }
  for (size_t i = 0; i < main->size(); ++i) {
    if (main->child(i).name == shortcut_name) {
      return absl::InvalidArgumentError(absl::StrCat("Residual: shortcut name '", shortcut_name,
                                                     "' is also a main-branch layer's name"));
    }
  }
  const Shape& in = main->InputShape();
  const Shape& out = main->OutputShape();
  if (shortcut == nullptr) {
    if (in != out) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Residual: the main branch maps ", in.ToString(), " to ", out.ToString(),
          "; an identity shortcut needs equal shapes (add a projection shortcut)"));
    }
  } else {
    if (shortcut->InputShape() != in) {
      return absl::InvalidArgumentError(
          absl::StrCat("Residual: the shortcut takes input shape ",
                       shortcut->InputShape().ToString(), " but the main branch takes ",
                       in.ToString()));
    }
    if (shortcut->OutputShape() != out) {
      return absl::InvalidArgumentError(
          absl::StrCat("Residual: the shortcut output shape ",
                       shortcut->OutputShape().ToString(),
                       " differs from the main branch output shape ", out.ToString()));
    }
    shortcut->SetMode(main->mode());
  }
  return std::unique_ptr<Residual>(
      new Residual(std::move(main), std::move(shortcut), shortcut_name));
}

std::string Residual::Describe() const {
  return absl::StrCat("Residual(main: ", main_->size(), " layers, shortcut: ",
                      shortcut_ == nullptr ? std::string("identity")
                                           : absl::StrCat(shortcut_->size(), " layers"),
                      ")");
}

void Residual::Forward(const Tensor& x, Tensor* y) {
  // Inside an InferenceScope the branch outputs are pooled and dropped at the end (nothing is
  // kept for Backward); otherwise they are members, reused across calls.
  TensorPool* tensors = InferencePool();
  Tensor pooled_main, pooled_shortcut;
  Tensor* main_out = &main_out_;
  Tensor* shortcut_out = &shortcut_out_;
  if (tensors != nullptr) {
    main_out_ = Tensor();
    shortcut_out_ = Tensor();
    pooled_main = tensors->Acquire(main_->OutputShape().WithBatch(x.dim(0)));
    main_out = &pooled_main;
    shortcut_out = &pooled_shortcut;
  }
  main_->Forward(x, main_out);
  y->EnsureShape(main_out->shape());
  const size_t n = static_cast<size_t>(main_out->size());
  ThreadPool* pool = &DefaultThreadPool();
  if (shortcut_ == nullptr) {
    SIMDNET_CHECK(x.shape() == main_out->shape());
    Add(main_out->data(), x.data(), y->data(), n, pool);
  } else {
    if (tensors != nullptr) *shortcut_out = tensors->Acquire(main_out->shape());
    shortcut_->RunForward(x, shortcut_out);
    Add(main_out->data(), shortcut_out->data(), y->data(), n, pool);
  }
}

void Residual::Backward(const Tensor& dy, Tensor* dx) {
  main_->Backward(dy, &main_dx_);
  ThreadPool* pool = &DefaultThreadPool();
  const size_t n = static_cast<size_t>(main_dx_.size());
  if (shortcut_ == nullptr) {
    dx->EnsureShape(main_dx_.shape());
    Add(main_dx_.data(), dy.data(), dx->data(), n, pool);
  } else {
    shortcut_->RunBackward(dy, dx);  // overwrites dx with the shortcut's input gradient
    Add(dx->data(), main_dx_.data(), dx->data(), n, pool);
  }
}

std::vector<NamedParameter> Residual::Params() {
  std::vector<NamedParameter> out = main_->Params();
  if (shortcut_ != nullptr) {
    for (NamedParameter& p : shortcut_->Params()) {
      out.push_back({absl::StrCat(shortcut_name_, ".", p.name), p.param});
    }
  }
  return out;
}

std::vector<NamedBuffer> Residual::Buffers() {
  std::vector<NamedBuffer> out = main_->Buffers();
  if (shortcut_ != nullptr) {
    for (NamedBuffer& b : shortcut_->Buffers()) {
      out.push_back({absl::StrCat(shortcut_name_, ".", b.name), b.value});
    }
  }
  return out;
}

std::vector<NamedRng> Residual::Rngs() {
  std::vector<NamedRng> out = main_->Rngs();
  if (shortcut_ != nullptr) {
    for (NamedRng& r : shortcut_->Rngs()) out.push_back({absl::StrCat(shortcut_name_, ".", r.name), r.rng});
  }
  return out;
}

std::vector<NamedLayer> Residual::Children() {
  std::vector<NamedLayer> out = main_->Children();
  if (shortcut_ != nullptr) out.push_back({shortcut_name_, shortcut_.get()});
  return out;
}

void Residual::BackwardBelowChild(size_t index, const Tensor& grad, Tensor* dx) {
  if (index < main_->size()) {
    main_->BackwardBelowChild(index, grad, dx);
    return;
  }
  SIMDNET_CHECK(shortcut_ != nullptr && index == main_->size());
  dx->EnsureShape(grad.shape());
  Copy(grad.data(), dx->data(), static_cast<size_t>(grad.size()), &DefaultThreadPool());
}

void Residual::SetMode(Mode mode) {
  mode_ = mode;
  main_->SetMode(mode);
  if (shortcut_ != nullptr) shortcut_->SetMode(mode);
}

}  // namespace simdnet
