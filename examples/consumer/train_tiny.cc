// Builds a small CNN in C++ with simdnet's layers, trains it for a few steps on a synthetic
// two-class task (bright square top-left vs bottom-right) with simdnet's Trainer, and checks
// that it learned. Exit status 0 on success: tools/test.sh runs it from this workspace.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "layers/activation.h"
#include "layers/conv2d.h"
#include "layers/flatten.h"
#include "layers/linear.h"
#include "layers/model.h"
#include "layers/pooling.h"
#include "layers/sequential.h"
#include "train/trainer.h"

namespace {

using simdnet::Shape;

// 64 samples of 1x8x8: class 0 has a bright 3x3 square at the top left, class 1 at the bottom
// right, on a faint deterministic texture.
simdnet::InMemoryDataset MakeData(int64_t num, int seed) {
  simdnet::InMemoryDataset d;
  d.num = num;
  d.channels = 1;
  d.height = d.width = 8;
  d.classes = {"top_left", "bottom_right"};
  for (int64_t i = 0; i < num; ++i) {
    const int label = static_cast<int>((i + seed) % 2);
    d.labels.push_back(label);
    for (int y = 0; y < 8; ++y) {
      for (int x = 0; x < 8; ++x) {
        const bool in_square = label == 0 ? (x < 3 && y < 3) : (x >= 5 && y >= 5);
        d.pixels.push_back(static_cast<uint8_t>(in_square ? 230 : (x * 7 + y * 13 + i) % 40));
      }
    }
  }
  return d;
}

int Fail(const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "train_tiny: %s: %s\n", what.c_str(), std::string(status.message()).c_str());
  return 1;
}

}  // namespace

int main() {
  simdnet::Rng rng(7);
  auto root = std::move(simdnet::Sequential::Create(Shape({1, 8, 8}))).value();
  simdnet::Conv2dOptions conv;
  conv.out_channels = 4;
  conv.kernel_h = conv.kernel_w = 3;
  conv.pad_h = conv.pad_w = 1;
  absl::Status s = root->Add(simdnet::Conv2d::Create(conv, root->OutputShape(), rng));
  if (s.ok()) s = root->Add(simdnet::Activation::Create({}, root->OutputShape()));
  simdnet::Pool2dOptions pool;
  pool.kernel_h = pool.kernel_w = 4;
  if (s.ok()) s = root->Add(simdnet::Pool2d::Create(pool, root->OutputShape()));
  if (s.ok()) s = root->Add(simdnet::Flatten::Create(root->OutputShape()));
  simdnet::LinearOptions fc;
  fc.out_features = 2;
  if (s.ok()) s = root->Add(simdnet::Linear::Create(fc, root->OutputShape(), rng));
  if (!s.ok()) return Fail("building the model", s);
  auto model = simdnet::Model::Create(std::move(root), 2);
  if (!model.ok()) return Fail("building the model", model.status());

  // The checkpoint records the model as spec text, which Model::ToSpec writes for a model built
  // in C++.
  simdnet::CheckpointInfo info;
  absl::StatusOr<std::string> spec = (*model)->ToSpec();
  if (!spec.ok()) return Fail("ToSpec", spec.status());
  info.model_spec = *spec;
  info.input_shape = Shape({1, 8, 8});
  info.num_classes = 2;
  std::printf("model spec:\n%s", spec->c_str());

  const simdnet::InMemoryDataset train = MakeData(64, 0), test = MakeData(32, 1);
  simdnet::TrainingData data;
  data.train = &train;
  data.eval = &test;
  simdnet::TrainerOptions options;
  options.epochs = 6;
  options.batch_size = 16;
  options.optimizer = "sgd:lr=0.1,momentum=0.9";
  char dir[] = "/tmp/simdnet_consumer_XXXXXX";
  if (mkdtemp(dir) == nullptr) return Fail("mkdtemp", absl::InternalError("failed"));
  options.run_dir = dir;
  options.progress = false;
  options.log = nullptr;
  auto trainer = simdnet::Trainer::Create(options, data, model->get(), info);
  if (!trainer.ok()) return Fail("Trainer::Create", trainer.status());
  absl::StatusOr<simdnet::TrainResult> result = (*trainer)->Run();
  if (!result.ok()) return Fail("Run", result.status());
  std::printf("trained %lld iterations; best test accuracy %.3f (run dir %s)\n",
              static_cast<long long>(result->iterations), result->best_eval_accuracy, dir);
  if (result->best_eval_accuracy < 0.9) {
    std::fprintf(stderr, "train_tiny: the model did not learn the toy task\n");
    return 1;
  }
  return 0;
}
